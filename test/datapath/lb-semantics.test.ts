// Service load balancing over real connections, in throw-away namespaces:
//
//   client  10.244.9.10 ─┐
//   back1   10.244.9.11 ─┼─ node: lxc.o/host.o (veth mode, tc LB on), sock.o on a
//   back2   10.244.9.12 ─┘  test cgroup; uplink 192.168.210.1/24
//                                      │
//                       other node 192.168.210.2 (routes the pod CIDR via the node)
//
// Services come from real Service/EndpointSlice objects through the model
// (buildServiceTable) and the reconciler (LbSync) into the pinned maps.
// Clients run as `node peer.mjs` inside a pod namespace; "sock" clients also
// join the test cgroup, so their connect()/sendmsg() go through the socket
// LB; the others are translated per packet by the tc LB.
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdirSync, rmdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { EndpointSlice, Service } from "../../src/cluster/index.ts";
import { attachSockLb, detachSockLb, LbMaps, mapAddrText } from "../../src/datapath/lb/index.ts";
import * as net from "../../src/datapath/net/index.ts";
import { plumbPod, VethDatapath } from "../../src/datapath/veth/index.ts";
import {
  buildServiceTable,
  LbSync,
  MemoryIdAllocator,
  parseServiceConfig,
  type ServiceTable,
} from "../../src/service/index.ts";
import {
  Cleanup,
  cgroupRoot,
  requireRoot,
  run,
  tempNetns,
  tempPinDir,
  uniqueName,
  waitNoTentative,
} from "../harness/index.ts";

requireRoot();

const execFileAsync = promisify(execFile);
const PEER = join(dirname(fileURLToPath(import.meta.url)), "../fixtures/lb/peer.mjs");
const NODE_IP = "192.168.210.1";
const REMOTE_IP = "192.168.210.2";
const NODE_IP6 = "fd00:210::1";
const REMOTE_IP6 = "fd00:210::2";
const PODS = { client: "10.244.9.10", back1: "10.244.9.11", back2: "10.244.9.12" } as const;
const PODS6 = {
  client: "fd00:244:9::10",
  back1: "fd00:244:9::11",
  back2: "fd00:244:9::12",
} as const;
type PodName = keyof typeof PODS;
const NODE_NAME = "node-1";

interface Ns {
  name: string;
  path: string;
}

const c = new Cleanup();
const ns = {} as Record<PodName | "node" | "remote", Ns>;
let cgroup = "";
let sockPinRoot = "";
let maps: LbMaps;
let sync: LbSync;
const ids: { frontends: MemoryIdAllocator; backends: MemoryIdAllocator } = {
  frontends: new MemoryIdAllocator("frontend"),
  backends: new MemoryIdAllocator("backend", 1, 0xffffffff),
};
let services: Service[] = [];
let slices: EndpointSlice[] = [];

function service(name: string, spec: Record<string, unknown>): Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: "default" },
    spec,
  } as Service;
}

function slice(
  svc: string,
  pods: PodName[],
  ports: { name: string; port: number; protocol: string }[],
  family: "IPv4" | "IPv6" = "IPv4",
) {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: `${svc}-${family === "IPv4" ? "abc" : "v6"}`,
      namespace: "default",
      labels: { "kubernetes.io/service-name": svc },
    },
    addressType: family,
    endpoints: pods.map((p) => ({
      addresses: [family === "IPv4" ? PODS[p] : PODS6[p]],
      conditions: { ready: true },
      nodeName: NODE_NAME,
    })),
    ports,
  } as unknown as EndpointSlice;
}

/** An EndpointSlice whose one endpoint is the other node's address (a backend on node-2). */
function remoteSlice(svc: string): EndpointSlice {
  const s = slice(svc, [], [WEB_PORTS[0]!]) as unknown as { endpoints: unknown[] };
  s.endpoints = [{ addresses: [REMOTE_IP], conditions: { ready: true }, nodeName: "node-2" }];
  return s as unknown as EndpointSlice;
}

/** Rebuilds the table from `services`/`slices` and syncs the maps (full). */
function apply(): ServiceTable {
  const table = buildServiceTable({
    services,
    slices,
    nodeName: NODE_NAME,
    nodeAddresses: [NODE_IP, NODE_IP6],
    config: parseServiceConfig({}),
    ids,
  });
  sync.sync(table);
  return table;
}

const WEB_PORTS = [
  { name: "http", port: 8080, protocol: "TCP" },
  { name: "dns", port: 5353, protocol: "UDP" },
];

function baseServices(): void {
  services = [
    service("web", {
      type: "NodePort",
      selector: { app: "web" },
      clusterIP: "10.96.0.10",
      clusterIPs: ["10.96.0.10"],
      ports: [
        { name: "http", port: 80, targetPort: 8080, protocol: "TCP", nodePort: 30080 },
        { name: "dns", port: 53, targetPort: 5353, protocol: "UDP" },
      ],
    }),
    service("sticky", {
      selector: { app: "web" },
      clusterIP: "10.96.0.20",
      clusterIPs: ["10.96.0.20"],
      sessionAffinity: "ClientIP",
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 1 } },
      ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }],
    }),
    service("empty", {
      selector: { app: "nothing" },
      clusterIP: "10.96.0.30",
      clusterIPs: ["10.96.0.30"],
      ports: [
        { name: "http", port: 80, targetPort: 8080, protocol: "TCP" },
        { name: "dns", port: 53, targetPort: 5353, protocol: "UDP" },
      ],
    }),
    {
      ...service("maglev", {
        selector: { app: "web" },
        clusterIP: "10.96.0.50",
        clusterIPs: ["10.96.0.50"],
        ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }],
      }),
      metadata: {
        name: "maglev",
        namespace: "default",
        annotations: { "fairway.io/lb-algorithm": "maglev" },
      },
    } as Service,
    service("web6", {
      type: "NodePort",
      selector: { app: "web" },
      ipFamilies: ["IPv6"],
      clusterIP: "fd00:96::10",
      clusterIPs: ["fd00:96::10"],
      ports: [
        { name: "http", port: 80, targetPort: 8080, protocol: "TCP", nodePort: 30086 },
        { name: "dns", port: 53, targetPort: 5353, protocol: "UDP" },
      ],
    }),
    service("empty6", {
      selector: { app: "nothing" },
      ipFamilies: ["IPv6"],
      clusterIP: "fd00:96::30",
      clusterIPs: ["fd00:96::30"],
      ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }],
    }),
    service("self6", {
      selector: { app: "b1" },
      ipFamilies: ["IPv6"],
      clusterIP: "fd00:96::40",
      clusterIPs: ["fd00:96::40"],
      ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }],
    }),
    service("ext", {
      type: "NodePort",
      selector: { app: "remote" },
      clusterIP: "10.96.0.60",
      clusterIPs: ["10.96.0.60"],
      ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP", nodePort: 30090 }],
    }),
    service("extlocal", {
      type: "NodePort",
      selector: { app: "remote" },
      externalTrafficPolicy: "Local",
      clusterIP: "10.96.0.61",
      clusterIPs: ["10.96.0.61"],
      ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP", nodePort: 30091 }],
    }),
    service("self", {
      selector: { app: "b1" },
      clusterIP: "10.96.0.40",
      clusterIPs: ["10.96.0.40"],
      ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }],
    }),
  ];
  slices = [
    slice("web", ["back1", "back2"], WEB_PORTS),
    slice("sticky", ["back1", "back2"], [WEB_PORTS[0]!]),
    slice("self", ["back1"], [WEB_PORTS[0]!]),
    slice("maglev", ["back1", "back2"], [WEB_PORTS[0]!]),
    slice("web6", ["back1", "back2"], WEB_PORTS, "IPv6"),
    remoteSlice("ext"),
    remoteSlice("extlocal"),
    slice("self6", ["back1"], [WEB_PORTS[0]!], "IPv6"),
  ];
}

type Via = "sock" | "tc";

/** Runs peer.mjs in a pod namespace (in the socket-LB cgroup for "sock"); parses its JSON line. */
async function peer<T>(from: Ns, via: Via, ...args: string[]): Promise<T> {
  const cmd = ["netns", "exec", from.name, process.execPath, PEER, ...args];
  const { stdout } =
    via === "sock"
      ? await execFileAsync(
          "bash",
          [
            "-c",
            `echo $$ > ${join(cgroup, "cgroup.procs")} && exec ip ${cmd.map((a) => `'${a}'`).join(" ")}`,
          ],
          { timeout: 60_000 },
        )
      : await execFileAsync("ip", cmd, { timeout: 60_000 });
  return JSON.parse(stdout.trim().split("\n").pop()!) as T;
}

interface ConnectResult {
  counts: Record<string, number>;
  errors: Record<string, number>;
  peers: Record<string, number>;
}

interface UdpResult {
  counts: Record<string, number>;
  sources: Record<string, number>;
  errors: number;
}

function startServer(pod: PodName | "remote"): ChildProcess {
  const p = spawn(
    "ip",
    ["netns", "exec", ns[pod].name, process.execPath, PEER, "serve", pod, "8080", "5353"],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  c.defer(() => {
    p.kill();
  });
  return p;
}

async function waitReady(p: ChildProcess): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("server did not start")), 5000);
    p.stdout!.once("data", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

before(async () => {
  ns.node = tempNetns(c, "lnd");
  ns.remote = tempNetns(c, "lrm");
  for (const p of Object.keys(PODS) as PodName[]) ns[p] = tempNetns(c, p.slice(0, 3));
  c.defer(() => net.closeNetlinkSocket(ns.node.path));
  const pinRoot = tempPinDir(c, "lb");
  cgroup = join(cgroupRoot, uniqueName("lbcg"));
  mkdirSync(cgroup);
  c.defer(() => rmdirSync(cgroup));

  const uplink = uniqueName("up");
  run("ip", [
    "-n",
    ns.node.name,
    "link",
    "add",
    uplink,
    "type",
    "veth",
    "peer",
    "name",
    "eth0",
    "netns",
    ns.remote.name,
  ]);
  run("ip", ["-n", ns.node.name, "addr", "add", `${NODE_IP}/24`, "dev", uplink]);
  run("ip", ["-n", ns.node.name, "link", "set", uplink, "up"]);
  run("ip", ["-n", ns.remote.name, "addr", "add", `${REMOTE_IP}/24`, "dev", "eth0"]);
  run("ip", ["-n", ns.remote.name, "link", "set", "eth0", "up"]);
  run("ip", ["-n", ns.remote.name, "route", "add", "10.244.0.0/16", "via", NODE_IP]);
  run("ip", ["-n", ns.node.name, "addr", "add", `${NODE_IP6}/64`, "dev", uplink, "nodad"]);
  run("ip", ["-n", ns.remote.name, "addr", "add", `${REMOTE_IP6}/64`, "dev", "eth0", "nodad"]);
  run("ip", ["-n", ns.remote.name, "route", "add", "fd00:244::/32", "via", NODE_IP6]);

  const dp = VethDatapath.load({ mode: "veth", pinRoot, netns: ns.node.path, ipv6: true });
  c.defer(() => dp.close());
  dp.attachUplink(uplink);
  let id = 200;
  for (const p of Object.keys(PODS) as PodName[]) {
    const plumbed = await plumbPod(
      { netnsPath: ns[p].path, hostIfname: uniqueName("h"), podIps: [PODS[p], PODS6[p]] },
      { netns: ns.node.path },
    );
    dp.attachEndpoint({
      endpointId: ++id,
      hostIfname: plumbed.hostIfname,
      podIps: plumbed.podIps,
      podMac: plumbed.podMac,
      hostMac: plumbed.hostMac,
    });
  }
  sockPinRoot = pinRoot;
  attachSockLb({ pinRoot, cgroupPath: cgroup });
  c.defer(() => {
    detachSockLb(pinRoot);
  });
  maps = LbMaps.open(pinRoot, 16381);
  c.defer(() => maps.close());
  sync = new LbSync(maps, ids);
  sync.setNodeAddresses([NODE_IP]);
  baseServices();
  apply();
  await Promise.all([
    waitReady(startServer("back1")),
    waitReady(startServer("back2")),
    waitReady(startServer("remote")),
  ]);
  for (const n of [ns.node, ns.remote, ns.client, ns.back1, ns.back2]) await waitNoTentative(n);
});

after(() => c.run());

/** Chi-square goodness of fit against uniform; true when not rejected at p = 0.001. */
function looksUniform(counts: number[]): boolean {
  const n = counts.reduce((a, b) => a + b, 0);
  const expected = n / counts.length;
  const chi2 = counts.reduce((a, o) => a + (o - expected) ** 2 / expected, 0);
  // critical values at p = 0.001 for 1..3 degrees of freedom
  return chi2 < [10.83, 13.82, 16.27][counts.length - 2]!;
}

describe("service LB semantics", () => {
  for (const via of ["sock", "tc"] as const) {
    test(`${via}: connections spread uniformly over the backends`, async () => {
      const r = await peer<ConnectResult>(ns.client, via, "connect", "10.96.0.10", "80", "300");
      assert.deepEqual(r.errors, {});
      const counts = [r.counts.back1 ?? 0, r.counts.back2 ?? 0];
      assert.equal(counts[0]! + counts[1]!, 300);
      assert.ok(looksUniform(counts), `not uniform: ${JSON.stringify(r.counts)}`);
      // The client sees the service address as its peer, whichever layer translated.
      assert.deepEqual(Object.keys(r.peers), ["10.96.0.10:80"]);
    });

    test(`${via}: a Maglev service spreads over its backends through the Maglev table`, async () => {
      const fe = maps.services
        .dump()
        .find(([k]) => mapAddrText(k.addr, k.family) === "10.96.0.50" && k.port === 80)?.[1];
      assert.ok(fe && fe.flags & 1, "the frontend is marked Maglev");
      const table = maps.maglev.lookup(fe.set_id);
      assert.equal(table?.length, 16381);
      const r = await peer<ConnectResult>(ns.client, via, "connect", "10.96.0.50", "80", "200");
      assert.deepEqual(r.errors, {});
      const counts = [r.counts.back1 ?? 0, r.counts.back2 ?? 0];
      assert.ok(looksUniform(counts), `not uniform: ${JSON.stringify(r.counts)}`);
    });

    test(`${via}: UDP through a ClusterIP answers from the service address`, async () => {
      const r = await peer<UdpResult>(ns.client, via, "udp", "10.96.0.10", "53", "40");
      assert.equal(r.errors, 0);
      assert.deepEqual(Object.keys(r.sources), ["10.96.0.10:53"]);
      assert.ok((r.counts.back1 ?? 0) + (r.counts.back2 ?? 0) === 40);
    });

    test(`${via}: a service without endpoints rejects at once`, async () => {
      const t0 = Date.now();
      const r = await peer<ConnectResult>(ns.client, via, "connect", "10.96.0.30", "80", "3");
      assert.deepEqual(r.errors, { ECONNREFUSED: 3 }, JSON.stringify(r));
      assert.ok(
        Date.now() - t0 < 4000,
        "rejected, not timed out (a timeout takes 5 s per connection)",
      );
    });

    test(`${via}: hairpin, a pod reaching a service that selects itself`, async () => {
      const r = await peer<ConnectResult>(ns.back1, via, "connect", "10.96.0.40", "80", "5");
      assert.deepEqual(r.errors, {});
      assert.deepEqual(r.counts, { back1: 5 });
      assert.deepEqual(Object.keys(r.peers), ["10.96.0.40:80"]);
    });

    test(`${via}: a port that is not a service port is not translated`, async () => {
      const r = await peer<ConnectResult>(ns.client, via, "connect", "10.96.0.10", "8080", "1");
      assert.equal(Object.keys(r.counts).length, 0, "nothing answers on the ClusterIP itself");
      assert.equal(
        Object.values(r.errors).reduce((a, b) => a + b, 0),
        1,
      );
    });
  }

  for (const via of ["sock", "tc"] as const) {
    test(`${via}: IPv6 ClusterIP: spread, UDP replies from the service address, hairpin`, async () => {
      const r = await peer<ConnectResult>(ns.client, via, "connect", "fd00:96::10", "80", "200");
      assert.deepEqual(r.errors, {});
      assert.ok(looksUniform([r.counts.back1 ?? 0, r.counts.back2 ?? 0]), JSON.stringify(r.counts));
      assert.deepEqual(Object.keys(r.peers), ["fd00:96::10:80"]);
      const u = await peer<UdpResult>(ns.client, via, "udp", "fd00:96::10", "53", "20");
      assert.equal(u.errors, 0);
      assert.deepEqual(Object.keys(u.sources), ["fd00:96::10:53"]);
      const h = await peer<ConnectResult>(ns.back1, via, "connect", "fd00:96::40", "80", "5");
      assert.deepEqual(h.errors, {});
      assert.deepEqual(h.counts, { back1: 5 });
    });
  }

  for (const via of ["sock", "tc"] as const) {
    test(`${via}: an IPv6 service without endpoints rejects at once`, async () => {
      const t0 = Date.now();
      const r = await peer<ConnectResult>(ns.client, via, "connect", "fd00:96::30", "80", "3");
      assert.deepEqual(r.errors, { ECONNREFUSED: 3 }, JSON.stringify(r));
      assert.ok(
        Date.now() - t0 < 4000,
        "rejected, not timed out (a timeout takes 5 s per connection)",
      );
    });
  }

  test("IPv6 NodePort reached from another node's namespace", async () => {
    const r = await peer<ConnectResult>(ns.remote, "tc", "connect", NODE_IP6, "30086", "20");
    assert.deepEqual(r.errors, {});
    assert.equal((r.counts.back1 ?? 0) + (r.counts.back2 ?? 0), 20);
  });

  test("NodePort to a backend on another node: SNATed to this node, the reply comes back through it", async () => {
    const r = await peer<ConnectResult>(ns.remote, "tc", "connect", NODE_IP, "30090", "20");
    assert.deepEqual(r.errors, {});
    assert.deepEqual(r.counts, { remote: 20 });
    assert.deepEqual(Object.keys(r.peers), [`${NODE_IP}:30090`]);
  });

  test("NodePort with externalTrafficPolicy Local and no local endpoint drops (kube-proxy does too)", async () => {
    const r = await peer<ConnectResult>(ns.remote, "tc", "connect", NODE_IP, "30091", "1", "1500");
    assert.deepEqual(r.counts, {});
    assert.deepEqual(r.errors, { ETIMEDOUT: 1 }, "dropped, not refused");
  });

  test("tc: a direct connection reusing an old service flow's source port is not rewritten", async () => {
    const viaService = await peer<ConnectResult>(
      ns.client,
      "tc",
      "connect",
      "10.96.0.10",
      "80",
      "1",
      "5000",
      "20001",
    );
    assert.deepEqual(viaService.errors, {});
    const backend = Object.keys(viaService.counts)[0] as PodName;
    // (20001: below the ephemeral range, so no earlier connection holds it.)
    // Same client port, now straight to that backend's own address: its replies
    // must not be taken for the old service flow's.
    const direct = await peer<ConnectResult>(
      ns.client,
      "tc",
      "connect",
      PODS[backend],
      "8080",
      "1",
      "5000",
      "20001",
    );
    assert.deepEqual(direct.errors, {});
    assert.deepEqual(direct.counts, { [backend]: 1 });
    assert.deepEqual(Object.keys(direct.peers), [`${PODS[backend]}:8080`]);
  });

  test("sock: ClientIP affinity sticks for its timeout, then may move", async () => {
    const r = await peer<ConnectResult>(ns.client, "sock", "connect", "10.96.0.20", "80", "30");
    assert.deepEqual(r.errors, {});
    assert.equal(Object.keys(r.counts).length, 1, `not sticky: ${JSON.stringify(r.counts)}`);
    let first = Object.keys(r.counts)[0];
    let moved = false;
    // After the 1 s timeout the next connection picks afresh: 1 in 2 moves.
    for (let round = 0; round < 12 && !moved; round++) {
      await new Promise((res) => setTimeout(res, 1300));
      const again = await peer<ConnectResult>(
        ns.client,
        "sock",
        "connect",
        "10.96.0.20",
        "80",
        "1",
      );
      const now = Object.keys(again.counts)[0];
      moved = now !== first;
      first = now;
    }
    assert.ok(moved, "the backend never changed after the affinity timeout (p = 1/4096)");
  });

  test("tc: ClientIP affinity sticks for its timeout", async () => {
    const r = await peer<ConnectResult>(ns.client, "tc", "connect", "10.96.0.20", "80", "30");
    assert.deepEqual(r.errors, {});
    assert.equal(Object.keys(r.counts).length, 1, `not sticky: ${JSON.stringify(r.counts)}`);
  });

  test("NodePort reached from another node's namespace", async () => {
    const r = await peer<ConnectResult>(ns.remote, "tc", "connect", NODE_IP, "30080", "40");
    assert.deepEqual(r.errors, {});
    assert.equal((r.counts.back1 ?? 0) + (r.counts.back2 ?? 0), 40);
    assert.deepEqual(Object.keys(r.peers), [`${NODE_IP}:30080`]);
  });

  for (const via of ["sock", "tc"] as const) {
    test(`${via}: removing a backend: established TCP goes on, new connections avoid it`, async () => {
      const holder = spawn(
        "bash",
        [
          "-c",
          `${via === "sock" ? `echo $$ > ${join(cgroup, "cgroup.procs")} && ` : ""}exec ip netns exec ${ns.client.name} ${process.execPath} ${PEER} hold 10.96.0.10 80`,
        ],
        { stdio: ["pipe", "pipe", "inherit"] },
      );
      const lines: string[] = [];
      holder.stdout!.on("data", (d: Buffer) => lines.push(...d.toString().trim().split("\n")));
      const nextLine = async (): Promise<string> => {
        for (let i = 0; i < 500 && lines.length === 0; i++)
          await new Promise((r) => setTimeout(r, 20));
        return lines.shift() ?? "(nothing)";
      };
      try {
        holder.stdin!.write("one\n");
        const first = await nextLine();
        assert.match(first, /^reply back[12]$/);
        const held = first.slice("reply ".length) as PodName;
        const other: PodName = held === "back1" ? "back2" : "back1";

        slices = slices.map((s) =>
          s.metadata.name === "web-abc" ? slice("web", [other], WEB_PORTS) : s,
        );
        apply();
        holder.stdin!.write("two\n");
        assert.equal(
          await nextLine(),
          `reply ${held}`,
          "the established connection keeps its backend",
        );
        const r = await peer<ConnectResult>(ns.client, via, "connect", "10.96.0.10", "80", "30");
        assert.deepEqual(r.counts, { [other]: 30 });
      } finally {
        holder.stdin!.end("quit\n");
        holder.kill();
        baseServices();
        apply();
      }
    });
  }

  test("a restarted reconciler adopts the maps: same IDs, nothing rewritten, no traffic gap, orphans removed", async () => {
    const before = new Map(
      maps.services.dump().map(([k, v]) => [`${k.addr}:${k.port}/${k.proto}`, v]),
    );
    const traffic = peer<ConnectResult>(ns.client, "tc", "connect", "10.96.0.10", "80", "200");
    // The "agent" restarts: new allocators and reconciler; "sticky" was deleted while it was down.
    const fresh = {
      frontends: new MemoryIdAllocator("frontend"),
      backends: new MemoryIdAllocator("backend", 1, 0xffffffff),
    };
    // Debris a crashed agent can leave: a set nothing points at, a service
    // entry without its reverse-NAT entry, a backend nothing uses.
    maps.slots.update({ set_id: 999_999, slot: 0 }, 1);
    const stray = { addr: new Uint8Array(16).fill(0), port: 9, proto: 6, family: 4 };
    stray.addr.set([10, 96, 0, 99]);
    maps.services.update(stray, {
      set_id: 999_999,
      count: 1,
      rev_nat_id: 65_000,
      action: 0,
      flags: 0,
      affinity_timeout: 0,
    });
    maps.backends.update(4_000_000, {
      addr: new Uint8Array(16),
      port: 1,
      proto: 6,
      flags: 0,
      family: 4,
      pad: new Uint8Array(3),
    });
    const restarted = new LbSync(maps, fresh);
    const adopted = restarted.adopt();
    assert.equal(maps.slots.lookup({ set_id: 999_999, slot: 0 }), undefined, "orphan set removed");
    assert.equal(maps.services.lookup(stray), undefined, "unreadable service entry removed");
    assert.ok(adopted.frontends >= 5 && adopted.backends >= 2, JSON.stringify(adopted));
    const table = buildServiceTable({
      services: services.filter((s) => s.metadata.name !== "sticky"),
      slices,
      nodeName: NODE_NAME,
      nodeAddresses: [NODE_IP, NODE_IP6],
      config: parseServiceConfig({}),
      ids: fresh,
    });
    const r = restarted.sync(table);
    assert.equal(r.written, 0, "every surviving frontend was already right");
    assert.equal(r.removed, 1, "the deleted service's frontend is gone");
    const after = new Map(
      maps.services.dump().map(([k, v]) => [`${k.addr}:${k.port}/${k.proto}`, v]),
    );
    assert.equal(after.size, before.size - 1);
    for (const [k, v] of after) assert.deepEqual(v, before.get(k), `frontend ${k} changed`);
    assert.equal(maps.backends.lookup(4_000_000), undefined, "unused backend removed");
    const t = await traffic;
    assert.deepEqual(t.errors, {}, "no connection failed across the restart");
    // Hand the maps back to the suite's reconciler and allocators.
    sync = restarted;
    ids.frontends = fresh.frontends;
    ids.backends = fresh.backends;
    apply();
  });

  test("sock: attaching again re-points the pinned links in place (an agent restart)", async () => {
    const attachedProgs = () =>
      run("bpftool", ["cgroup", "show", cgroup])
        .split("\n")
        .filter((l) => /sock[46]_/.test(l)).length;
    assert.equal(attachedProgs(), 8);
    const r = attachSockLb({ pinRoot: sockPinRoot, cgroupPath: cgroup });
    assert.deepEqual(r.attached, []);
    assert.equal(r.updated.length, 8);
    assert.equal(attachedProgs(), 8, "replaced, not added");
    const c1 = await peer<ConnectResult>(ns.client, "sock", "connect", "10.96.0.10", "80", "10");
    assert.deepEqual(c1.errors, {});
    assert.deepEqual(Object.keys(c1.peers), ["10.96.0.10:80"]);
  });

  test("the reconciler leaves nothing behind when every service goes", () => {
    services = [];
    slices = [];
    apply();
    assert.equal(maps.services.dump().length, 0);
    assert.equal(maps.slots.dump().length, 0);
    assert.equal(maps.backends.dump().length, 0);
    assert.equal(maps.revnat.dump().length, 0);
    baseServices();
    apply();
    assert.ok(maps.services.dump().length > 0);
  });
});
