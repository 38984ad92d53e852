// The iptables-restore input kube-proxy's iptables mode (v1.3x,
// pkg/proxy/iptables/proxier.go, syncProxyRules) writes for ClusterIP services,
// so that bench/services.ts can load the same rules with the same tool. The
// expected lines in the unit test come from kube-proxy's own tests.
//
// What is modelled, rule for rule and in kube-proxy's order:
//   - filter: the top-level chains KUBE-SERVICES, KUBE-EXTERNAL-SERVICES,
//     KUBE-FORWARD, KUBE-NODEPORTS, KUBE-PROXY-FIREWALL (empty for services
//     that have endpoints), KUBE-FIREWALL (localhost NodePorts on, the
//     default), and KUBE-FORWARD's three rules;
//   - nat: KUBE-POSTROUTING, KUBE-MARK-MASQ, per service one KUBE-SERVICES rule,
//     a KUBE-SVC-* chain (masquerade of off-cluster sources, then one
//     `statistic --mode random` jump per endpoint but the last) and a
//     KUBE-SEP-* chain per endpoint (hairpin masquerade, DNAT), and last the
//     KUBE-SERVICES → KUBE-NODEPORTS rule for local destinations;
//   - "large cluster mode" (more than 1000 endpoints in all): no comments on
//     the SVC → SEP and SEP rules;
//   - a partial sync (MinimizeIPTablesRestore: on by default since 1.27): the filter
//     table and the top-level nat chains in full, KUBE-SERVICES with every
//     service's rule, but chains only for the services that changed, plus
//     `-X` of stale service chains when the caller found some.
//   - the jump rules from the built-in chains, which kube-proxy adds with
//     `iptables -I` (EnsureRule) before its first restore, as a separate
//     restore input that inserts them.
// The masquerade mark is written 0x4000 as in kube-proxy's tests (the real
// proxier formats 1 << 14 with %#08x: the same mark).
// Not modelled: NodePort, externalIPs, load balancers, session affinity, Local
// traffic policies, services without endpoints (REJECT rules), nfacct
// counters, IPv6, the mangle-table canary chain (never on a packet's path).
// Restore the text with `iptables-restore -w 5 -W 100000 --noflush --counters`,
// kube-proxy's flags (RESTORE_ARGS).

import { createHash } from "node:crypto";

export interface KubeEndpoint {
  readonly ip: string;
  readonly port: number;
}

/** One port of a ClusterIP Service with its ready endpoints (IPv4, TCP). */
export interface KubeService {
  readonly namespace: string;
  readonly name: string;
  /** The service port's name; "" when unnamed. */
  readonly portName: string;
  readonly protocol: "TCP";
  readonly clusterIP: string;
  readonly port: number;
  readonly endpoints: readonly KubeEndpoint[];
}

export interface KubeProxyOptions {
  /** The cluster's pod CIDR: `--cluster-cidr`, detect-local-mode ClusterCIDR. */
  readonly clusterCIDR: string;
  /** 1 << masqueradeBit (default bit 14). */
  readonly masqueradeMark?: string;
  /** iptables has `MASQUERADE --random-fully` (every iptables since 1.6.2). */
  readonly randomFully?: boolean;
  /** `--iptables-localhost-nodeports`, true by default: adds KUBE-FIREWALL. */
  readonly localhostNodePorts?: boolean;
}

/** kube-proxy's flags to iptables-restore: wait for the lock, keep other chains, restore counters. */
export const RESTORE_ARGS = ["-w", "5", "-W", "100000", "--noflush", "--counters"] as const;

/** kubeproxy's largeClusterEndpointsThreshold: more endpoints than this drop per-endpoint comments. */
export const LARGE_CLUSTER_ENDPOINTS = 1000;

const SERVICE_CHAIN_PREFIXES = ["KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-"];

/** True for the per-service chains kube-proxy owns and deletes when stale (isServiceChainName). */
export function isServiceChain(chain: string): boolean {
  return SERVICE_CHAIN_PREFIXES.some((p) => chain.startsWith(p));
}

/** ServicePortName.String(): "ns/name:port", or "ns/name" for an unnamed port. */
export function servicePortName(s: KubeService): string {
  return `${s.namespace}/${s.name}${s.portName ? `:${s.portName}` : ""}`;
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

// kube-proxy computes a service's chain names once, when the service is added,
// not on every sync; so does this cache (bounded, for long runs).
const hashCache = new Map<string, string>();

/** The first 16 characters of base32.StdEncoding(sha256(text)): 80 bits, i.e. 10 bytes. */
function hash16(text: string): string {
  const cached = hashCache.get(text);
  if (cached !== undefined) return cached;
  if (hashCache.size > 500_000) hashCache.clear();
  const digest = createHash("sha256").update(text).digest();
  let bits = 0n;
  for (const byte of digest.subarray(0, 10)) bits = (bits << 8n) | BigInt(byte);
  let out = "";
  for (let i = 15; i >= 0; i--) out += BASE32[Number((bits >> BigInt(i * 5)) & 31n)];
  hashCache.set(text, out);
  return out;
}

/** servicePortPolicyClusterChain: "KUBE-SVC-" + portProtoHash(servicePortName, "tcp"). */
export function serviceChainName(s: KubeService): string {
  return `KUBE-SVC-${hash16(servicePortName(s) + s.protocol.toLowerCase())}`;
}

/** servicePortEndpointChainName: sha256 of servicePortName + "tcp" + "ip:port". */
export function endpointChainName(s: KubeService, ep: KubeEndpoint): string {
  return `KUBE-SEP-${hash16(servicePortName(s) + s.protocol.toLowerCase() + endpointString(ep))}`;
}

function endpointString(ep: KubeEndpoint): string {
  if (ep.ip.includes(":"))
    throw new Error(`kube-proxy-iptables: IPv6 endpoint ${ep.ip} unsupported`);
  return `${ep.ip}:${ep.port}`;
}

/** computeProbability: fmt.Sprintf("%0.10f", 1.0/float64(n)). */
export function probability(n: number): string {
  return (1 / n).toFixed(10);
}

/** MakeChainLine: a restore line that creates (or flushes) a chain. */
const chainLine = (chain: string) => `:${chain} - [0:0]`;

function options(o: KubeProxyOptions): Required<KubeProxyOptions> {
  return { masqueradeMark: "0x4000", randomFully: true, localhostNodePorts: true, ...o };
}

/** The filter table: identical in every sync when all services have endpoints. */
function filterTable(o: Required<KubeProxyOptions>): string[] {
  const chains = [
    "KUBE-SERVICES",
    "KUBE-EXTERNAL-SERVICES",
    "KUBE-FORWARD",
    "KUBE-NODEPORTS",
    "KUBE-PROXY-FIREWALL",
  ].map(chainLine);
  const rules: string[] = [];
  if (o.localhostNodePorts) {
    chains.push(chainLine("KUBE-FIREWALL"));
    rules.push(
      '-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
    );
  }
  const mark = `${o.masqueradeMark}/${o.masqueradeMark}`;
  rules.push(
    "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
    `-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark} -j ACCEPT`,
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
  );
  return ["*filter", ...chains, ...rules, "COMMIT"];
}

interface NatBuffers {
  chains: string[];
  rules: string[];
}

/** The KUBE-SERVICES rule of a service, written on every sync. */
function servicesRule(s: KubeService, svcChain: string): string {
  return `-A KUBE-SERVICES -m comment --comment "${servicePortName(s)} cluster IP" -m tcp -p tcp -d ${s.clusterIP} --dport ${s.port} -j ${svcChain}`;
}

/** The KUBE-SVC-* and KUBE-SEP-* chains and rules of one service. */
function serviceChains(
  s: KubeService,
  svcChain: string,
  o: Required<KubeProxyOptions>,
  large: boolean,
  out: NatBuffers,
): void {
  const spn = servicePortName(s);
  const comment = (text: string) => (large ? "" : ` -m comment --comment ${text}`);
  out.chains.push(chainLine(svcChain));
  out.rules.push(
    `-A ${svcChain} -m comment --comment "${spn} cluster IP" -m tcp -p tcp -d ${s.clusterIP} --dport ${s.port} ! -s ${o.clusterCIDR} -j KUBE-MARK-MASQ`,
  );
  const n = s.endpoints.length;
  s.endpoints.forEach((ep, i) => {
    const stat = i < n - 1 ? ` -m statistic --mode random --probability ${probability(n - i)}` : "";
    const target = endpointChainName(s, ep);
    out.rules.push(
      `-A ${svcChain}${comment(`"${spn} -> ${endpointString(ep)}"`)}${stat} -j ${target}`,
    );
  });
  for (const ep of s.endpoints) {
    const sep = endpointChainName(s, ep);
    out.chains.push(chainLine(sep));
    out.rules.push(
      `-A ${sep}${comment(spn)} -s ${ep.ip} -j KUBE-MARK-MASQ`,
      `-A ${sep}${comment(spn)} -m tcp -p tcp -j DNAT --to-destination ${endpointString(ep)}`,
    );
  }
}

/** True when kube-proxy would be in large cluster mode for these services. */
export function isLargeCluster(services: readonly KubeService[]): boolean {
  let endpoints = 0;
  for (const s of services) endpoints += s.endpoints.length;
  return endpoints > LARGE_CLUSTER_ENDPOINTS;
}

export interface SyncInput {
  readonly services: readonly KubeService[];
  /** Services whose chains are written; all of them when absent (a full sync). */
  readonly changed?: ReadonlySet<string>;
  /** Existing service chains no service uses any more: flushed and deleted (`-X`). */
  readonly staleChains?: readonly string[];
}

function validate(services: readonly KubeService[]): void {
  for (const s of services) {
    if (s.endpoints.length === 0) {
      throw new Error(
        `kube-proxy-iptables: ${servicePortName(s)} has no endpoints (REJECT rules are not modelled)`,
      );
    }
  }
}

/**
 * The iptables-restore input of one syncProxyRules: the services in the order
 * given (kube-proxy uses Go map order), chains for all of them or for
 * `changed` (keyed by servicePortName) only.
 */
export function syncRules(input: SyncInput, opts: KubeProxyOptions): string {
  const o = options(opts);
  validate(input.services);
  const large = isLargeCluster(input.services);
  const mark = o.masqueradeMark;
  const nat: NatBuffers = {
    chains: ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"].map(
      chainLine,
    ),
    rules: [
      `-A KUBE-POSTROUTING -m mark ! --mark ${mark}/${mark} -j RETURN`,
      `-A KUBE-POSTROUTING -j MARK --xor-mark ${mark}`,
      `-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE${o.randomFully ? " --random-fully" : ""}`,
      `-A KUBE-MARK-MASQ -j MARK --or-mark ${mark}`,
    ],
  };
  // kube-proxy writes the KUBE-SERVICES rule of every service, and the chains
  // of changed ones, interleaved in one rules buffer, service by service.
  for (const s of input.services) {
    const svcChain = serviceChainName(s);
    nat.rules.push(servicesRule(s, svcChain));
    if (!input.changed || input.changed.has(servicePortName(s))) {
      serviceChains(s, svcChain, o, large, nat);
    }
  }
  for (const chain of input.staleChains ?? []) {
    nat.chains.push(chainLine(chain));
    nat.rules.push(`-X ${chain}`);
  }
  const dst = o.localhostNodePorts ? "" : " ! -d 127.0.0.0/8";
  nat.rules.push(
    `-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL${dst} -j KUBE-NODEPORTS`,
  );
  return [...filterTable(o), "*nat", ...nat.chains, ...nat.rules, "COMMIT", ""].join("\n");
}

/** A full sync: every service's chains. */
export function fullSyncRules(services: readonly KubeService[], opts: KubeProxyOptions): string {
  return syncRules({ services }, opts);
}

/**
 * The partial sync after `changed` (already updated inside `services`)
 * changed: its chains only, KUBE-SERVICES in full.
 */
export function changeSyncRules(
  services: readonly KubeService[],
  changed: KubeService,
  opts: KubeProxyOptions,
  staleChains: readonly string[] = [],
): string {
  return syncRules({ services, changed: new Set([servicePortName(changed)]), staleChains }, opts);
}

/** Every chain a sync of these services keeps (activeNATChains). */
export function activeServiceChains(services: readonly KubeService[]): Set<string> {
  const out = new Set<string>();
  for (const s of services) {
    out.add(serviceChainName(s));
    for (const ep of s.endpoints) out.add(endpointChainName(s, ep));
  }
  return out;
}

/** Chains named by `iptables-save -t nat` (lines ":NAME POLICY [p:b]"). */
export function savedChains(save: string): string[] {
  const out: string[] = [];
  for (const line of save.split("\n")) {
    if (line.startsWith(":")) out.push(line.slice(1, line.indexOf(" ")));
  }
  return out;
}

interface Jump {
  table: "filter" | "nat";
  chain: string;
  target: string;
  comment: string;
  extra: string;
}

const NEW = "-m conntrack --ctstate NEW ";

/** iptablesJumpChains then iptablesKubeletJumpChains, in kube-proxy's order. */
const JUMPS: readonly Jump[] = [
  {
    table: "filter",
    chain: "INPUT",
    target: "KUBE-EXTERNAL-SERVICES",
    comment: "kubernetes externally-visible service portals",
    extra: NEW,
  },
  {
    table: "filter",
    chain: "FORWARD",
    target: "KUBE-EXTERNAL-SERVICES",
    comment: "kubernetes externally-visible service portals",
    extra: NEW,
  },
  {
    table: "filter",
    chain: "INPUT",
    target: "KUBE-NODEPORTS",
    comment: "kubernetes health check service ports",
    extra: "",
  },
  {
    table: "filter",
    chain: "FORWARD",
    target: "KUBE-SERVICES",
    comment: "kubernetes service portals",
    extra: NEW,
  },
  {
    table: "filter",
    chain: "OUTPUT",
    target: "KUBE-SERVICES",
    comment: "kubernetes service portals",
    extra: NEW,
  },
  {
    table: "filter",
    chain: "FORWARD",
    target: "KUBE-FORWARD",
    comment: "kubernetes forwarding rules",
    extra: "",
  },
  {
    table: "filter",
    chain: "INPUT",
    target: "KUBE-PROXY-FIREWALL",
    comment: "kubernetes load balancer firewall",
    extra: NEW,
  },
  {
    table: "filter",
    chain: "OUTPUT",
    target: "KUBE-PROXY-FIREWALL",
    comment: "kubernetes load balancer firewall",
    extra: NEW,
  },
  {
    table: "filter",
    chain: "FORWARD",
    target: "KUBE-PROXY-FIREWALL",
    comment: "kubernetes load balancer firewall",
    extra: NEW,
  },
  {
    table: "nat",
    chain: "OUTPUT",
    target: "KUBE-SERVICES",
    comment: "kubernetes service portals",
    extra: "",
  },
  {
    table: "nat",
    chain: "PREROUTING",
    target: "KUBE-SERVICES",
    comment: "kubernetes service portals",
    extra: "",
  },
  {
    table: "nat",
    chain: "POSTROUTING",
    target: "KUBE-POSTROUTING",
    comment: "kubernetes postrouting rules",
    extra: "",
  },
  { table: "filter", chain: "INPUT", target: "KUBE-FIREWALL", comment: "", extra: "" },
  { table: "filter", chain: "OUTPUT", target: "KUBE-FIREWALL", comment: "", extra: "" },
];

/**
 * What kube-proxy's EnsureChain + EnsureRule(Prepend) calls leave behind on a
 * fresh node, as one restore input (for --noflush): the chains created empty,
 * each jump inserted at the top of its built-in chain in kube-proxy's order.
 */
export function jumpRules(): string {
  const out: string[] = [];
  for (const table of ["filter", "nat"] as const) {
    const jumps = JUMPS.filter((j) => j.table === table);
    out.push(`*${table}`, ...[...new Set(jumps.map((j) => j.target))].map(chainLine));
    for (const j of jumps) {
      const comment = j.comment ? `-m comment --comment "${j.comment}" ` : "";
      out.push(`-I ${j.chain} 1 ${j.extra}${comment}-j ${j.target}`);
    }
    out.push("COMMIT");
  }
  return `${out.join("\n")}\n`;
}
