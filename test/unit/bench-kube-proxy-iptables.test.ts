// bench/lib/kube-proxy-iptables.ts: the rules kube-proxy's iptables mode
// writes, checked against names and lines from kube-proxy's own tests
// (pkg/proxy/iptables/proxier_test.go, pkg/util/iptables/testing/parse_test.go)
// and well-known clusters, and against iptables-restore itself (root: it runs
// in a throw-away netns).
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  activeServiceChains,
  changeSyncRules,
  endpointChainName,
  fullSyncRules,
  isLargeCluster,
  isServiceChain,
  jumpRules,
  type KubeService,
  probability,
  RESTORE_ARGS,
  savedChains,
  serviceChainName,
  servicePortName,
} from "../../bench/lib/kube-proxy-iptables.ts";
import { cleanupFor, requireRoot, run, tempNetns } from "../harness/index.ts";

const svc = (
  ns: string,
  name: string,
  portName: string,
  ips: string[],
  o: { clusterIP?: string; protocol?: "TCP"; port?: number } = {},
): KubeService => ({
  namespace: ns,
  name,
  portName,
  protocol: o.protocol ?? "TCP",
  clusterIP: o.clusterIP ?? "172.30.0.41",
  port: o.port ?? 80,
  endpoints: ips.map((ip) => ({ ip, port: 80 })),
});

const OPTS = { clusterCIDR: "10.0.0.0/8" };
const svc1 = svc("ns1", "svc1", "p80", ["10.180.0.1", "10.180.0.2"]);

/** n services of two endpoints each, like bench/services.ts builds them. */
function many(n: number): KubeService[] {
  return Array.from({ length: n }, (_, i) =>
    svc(
      "fwbs",
      `svc-${i}`,
      "http",
      [`10.248.${i >> 7}.${(i & 127) * 2}`, `10.248.${i >> 7}.${(i & 127) * 2 + 1}`],
      {
        clusterIP: `10.97.${i >> 8}.${i & 255}`,
      },
    ),
  );
}

test("service and endpoint chain names are kube-proxy's", () => {
  // KUBE-SVC-: base32(sha256("ns/name:port" + "tcp"))[:16]
  assert.equal(serviceChainName(svc1), "KUBE-SVC-XPGD46QRK7WJZT7O");
  assert.equal(serviceChainName(svc("ns2", "svc2", "p80", [])), "KUBE-SVC-GNZBNJ2PO5MGZ6GT");
  assert.equal(serviceChainName(svc("ns4", "svc4", "p80", [])), "KUBE-SVC-4SW47YFZTEDKD3PK");
  assert.equal(
    serviceChainName(svc("default", "kubernetes", "https", [])),
    "KUBE-SVC-NPX46M4PTMTKRN6Y",
  );
  // KUBE-SEP-: base32(sha256("ns/name:port" + "tcp" + "ip:port"))[:16]
  const ep = (s: KubeService, ip: string) => endpointChainName(s, { ip, port: 80 });
  assert.equal(ep(svc1, "10.180.0.1"), "KUBE-SEP-SXIVWICOYRO3J4NJ");
  assert.equal(ep(svc1, "10.180.0.2"), "KUBE-SEP-LXVODXWDISEETFEF");
  assert.equal(ep(svc1, "10.180.2.1"), "KUBE-SEP-ZX7GRIZKSNUQ3LAJ");
  const svc4 = svc("ns4", "svc4", "p80", []);
  assert.equal(ep(svc4, "10.180.0.4"), "KUBE-SEP-UKSFD7AGPMPPLUHC");
  assert.equal(ep(svc4, "10.180.0.5"), "KUBE-SEP-C6EBXVWJJZMIWKLZ");
});

test("servicePortName leaves out an unnamed port", () => {
  assert.equal(servicePortName(svc1), "ns1/svc1:p80");
  assert.equal(servicePortName(svc("a", "b", "", [])), "a/b");
});

test("probabilities are 1/(n-i) with ten decimals, the last endpoint without one", () => {
  assert.equal(probability(2), "0.5000000000");
  assert.equal(probability(3), "0.3333333333");
  assert.equal(probability(4), "0.2500000000");
  for (const [n, want] of [
    [2, ["0.5000000000"]],
    [3, ["0.3333333333", "0.5000000000"]],
    [4, ["0.2500000000", "0.3333333333", "0.5000000000"]],
  ] as const) {
    const ips = Array.from({ length: n }, (_, i) => `10.180.0.${i + 1}`);
    const s = svc("ns1", "svc1", "p80", ips);
    const jumps = fullSyncRules([s], OPTS)
      .split("\n")
      .filter((l) => l.startsWith(`-A ${serviceChainName(s)} `) && l.includes("-j KUBE-SEP-"));
    assert.equal(jumps.length, n);
    assert.deepEqual(
      jumps.map((l) => /--probability (\S+)/.exec(l)?.[1]),
      [...want, undefined],
      `n=${n}`,
    );
    assert.ok(!jumps.at(-1)!.includes("statistic"));
  }
});

test("a full sync lays out filter and nat as kube-proxy does", () => {
  const text = fullSyncRules([svc1], OPTS);
  const lines = text.split("\n");
  const nat = lines.slice(lines.indexOf("*nat"));
  // The service's lines, verbatim from kube-proxy's tests (plus --random-fully).
  for (const want of [
    ":KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]",
    ":KUBE-SEP-SXIVWICOYRO3J4NJ - [0:0]",
    "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
    "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000",
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
    "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000",
    '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O',
    '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ',
    '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-SXIVWICOYRO3J4NJ',
    '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.2:80" -j KUBE-SEP-LXVODXWDISEETFEF',
    "-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ",
    "-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80",
  ]) {
    assert.ok(nat.includes(want), `missing: ${want}`);
  }
  // Top-level chains first, in kube-proxy's order; the NodePort jump last.
  assert.deepEqual(nat.slice(1, 5), [
    ":KUBE-SERVICES - [0:0]",
    ":KUBE-NODEPORTS - [0:0]",
    ":KUBE-POSTROUTING - [0:0]",
    ":KUBE-MARK-MASQ - [0:0]",
  ]);
  assert.equal(
    nat.at(-3),
    '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
  );
  assert.deepEqual(nat.slice(-2), ["COMMIT", ""]);
  // The filter table: its chains and KUBE-FORWARD's rules.
  assert.deepEqual(lines.slice(0, 7), [
    "*filter",
    ":KUBE-SERVICES - [0:0]",
    ":KUBE-EXTERNAL-SERVICES - [0:0]",
    ":KUBE-FORWARD - [0:0]",
    ":KUBE-NODEPORTS - [0:0]",
    ":KUBE-PROXY-FIREWALL - [0:0]",
    ":KUBE-FIREWALL - [0:0]",
  ]);
  assert.ok(lines.includes("-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP"));
  assert.ok(
    lines.includes(
      '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT',
    ),
  );
});

test("rule counts grow as kube-proxy's: 1 + 3 + 2x2 nat rules per two-endpoint service", () => {
  const text = fullSyncRules(many(50), OPTS);
  const nat = text.slice(text.indexOf("*nat"));
  const count = (re: RegExp) => nat.split("\n").filter((l) => re.test(l)).length;
  assert.equal(count(/^-A KUBE-SERVICES .*-j KUBE-SVC-/), 50);
  assert.equal(count(/^-A KUBE-SVC-/), 150);
  assert.equal(count(/^-A KUBE-SEP-/), 200);
  assert.equal(count(/^:KUBE-(SVC|SEP)-/), 150);
});

test("large cluster mode (over 1000 endpoints) drops the per-endpoint comments", () => {
  const services = many(501);
  assert.ok(isLargeCluster(services));
  assert.ok(!isLargeCluster(many(500)));
  const lines = fullSyncRules(services, OPTS).split("\n");
  const s = services[0]!;
  const sep = endpointChainName(s, s.endpoints[0]!);
  assert.ok(lines.includes(`-A ${sep} -s ${s.endpoints[0]!.ip} -j KUBE-MARK-MASQ`));
  assert.ok(
    lines.includes(
      `-A ${serviceChainName(s)} -m statistic --mode random --probability 0.5000000000 -j ${sep}`,
    ),
  );
  // The KUBE-SERVICES rule keeps its comment.
  assert.ok(
    lines.some((l) =>
      l.startsWith('-A KUBE-SERVICES -m comment --comment "fwbs/svc-0:http cluster IP"'),
    ),
  );
});

test("a change writes KUBE-SERVICES in full but only the changed service's chains", () => {
  const services = many(10);
  const changed = { ...services[4]!, endpoints: [services[4]!.endpoints[0]!] };
  services[4] = changed;
  const stale = [endpointChainName(changed, many(10)[4]!.endpoints[1]!)];
  const text = changeSyncRules(services, changed, OPTS, stale);
  const nat = text.slice(text.indexOf("*nat")).split("\n");
  assert.equal(nat.filter((l) => /^-A KUBE-SERVICES .*-j KUBE-SVC-/.test(l)).length, 10);
  const chains = nat.filter((l) => /^:KUBE-(SVC|SEP)-/.test(l));
  assert.deepEqual(chains, [
    `:${serviceChainName(changed)} - [0:0]`,
    `:${endpointChainName(changed, changed.endpoints[0]!)} - [0:0]`,
    `:${stale[0]} - [0:0]`,
  ]);
  assert.ok(nat.includes(`-X ${stale[0]}`));
  // One endpoint: the jump has no statistic match.
  assert.ok(
    nat.some(
      (l) =>
        l.startsWith(`-A ${serviceChainName(changed)} `) &&
        l.endsWith(`-j ${endpointChainName(changed, changed.endpoints[0]!)}`) &&
        !l.includes("statistic"),
    ),
  );
  // The filter table is written in full on every sync.
  assert.ok(text.startsWith("*filter\n:KUBE-SERVICES - [0:0]\n"));
});

test("stale chain helpers", () => {
  assert.ok(isServiceChain("KUBE-SEP-ABC"));
  assert.ok(isServiceChain("KUBE-SVC-ABC"));
  assert.ok(!isServiceChain("KUBE-SERVICES"));
  assert.ok(!isServiceChain("KUBE-MARK-MASQ"));
  assert.deepEqual(
    savedChains("*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SVC-X - [0:0]\n-A X\nCOMMIT\n"),
    ["PREROUTING", "KUBE-SVC-X"],
  );
  assert.equal(activeServiceChains([svc1]).size, 3);
});

test("services without endpoints are refused (REJECT rules are not modelled)", () => {
  assert.throws(() => fullSyncRules([svc("a", "b", "p", [])], OPTS), /no endpoints/);
});

test("iptables-restore accepts the text, nft and legacy backends (root)", async (t) => {
  requireRoot();
  const c = cleanupFor(t);
  const services = many(20);
  const changed = { ...services[3]!, endpoints: [services[3]!.endpoints[1]!] };
  const after = services.map((s, i) => (i === 3 ? changed : s));
  for (const backend of ["nft", "legacy"]) {
    const ns = tempNetns(c, "kpi");
    const restore = (text: string, extra: string[] = []) =>
      run(
        "ip",
        ["netns", "exec", ns.name, `iptables-${backend}-restore`, ...RESTORE_ARGS, ...extra],
        {
          input: text,
        },
      );
    // --test parses and checks without committing; a partial sync needs the full one before it.
    for (const text of [jumpRules(), fullSyncRules(services, OPTS)]) restore(text, ["--test"]);
    // And for real, in the throw-away netns: jumps, a full sync, then a change that leaves one chain stale.
    restore(jumpRules());
    restore(fullSyncRules(services, OPTS));
    const stale = [endpointChainName(services[3]!, services[3]!.endpoints[0]!)];
    restore(changeSyncRules(after, changed, OPTS, stale), ["--test"]);
    restore(changeSyncRules(after, changed, OPTS, stale));
    const save = run("ip", ["netns", "exec", ns.name, `iptables-${backend}-save`, "-t", "nat"]);
    const chains = new Set(savedChains(save).filter(isServiceChain));
    assert.deepEqual(chains, activeServiceChains(after), backend);
    assert.ok(
      save.includes(
        '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      ),
      backend,
    );
  }
});
