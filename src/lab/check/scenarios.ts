// The connectivity scenarios of `lab check`, in the order they run. Each
// probes from a source (the check's client pod, or a node's or the router's
// namespace) and passes when every probe gets its answer.
import { isReady } from "../agents.ts";
import { OUTSIDE_ADDRESS, OUTSIDE_PORT } from "../plan.ts";
import { ECHO_HTTP, ECHO_UDP } from "./fixtures.ts";
import type { ProbeClient, ProbeRequest, ProbeResult } from "./probe.ts";

export interface CheckEnv {
  nodes: { name: string; vpcIp: string; socket: string }[];
  /** pods of the check namespace: name -> address and node */
  pods: Map<string, { ip: string; node: string }>;
  clusterIP: string;
  nodePort: { tcp: number; udp: number };
  /** a probe client in the client pod, or in a node's / the router's namespace ("router", node name) */
  from(source: string): ProbeClient;
  /** CNI CHECK of every running pod of the lab; resolves with how many and the failures */
  cniCheckAll(): Promise<{ pods: number; failures: string[] }>;
}

export interface Outcome {
  ok: boolean;
  /** mean of the probes' times */
  ms: number;
  detail: string;
}

export interface Scenario {
  name: string;
  what: string;
  minNodes: number;
  run(env: CheckEnv): Promise<Outcome>;
}

export const PROBE_TIMEOUT_MS = 2000;

async function probes(
  client: ProbeClient,
  reqs: Omit<ProbeRequest, "id" | "timeoutMs">[],
  label: string,
): Promise<Outcome> {
  const results: ProbeResult[] = [];
  for (const r of reqs) results.push(await client.probe({ ...r, timeoutMs: PROBE_TIMEOUT_MS }));
  const bad = results.find((r) => !r.ok);
  const ms = results.reduce((s, r) => s + r.ms, 0) / Math.max(1, results.length);
  if (bad) return { ok: false, ms, detail: `${label}: ${bad.error}` };
  const backends = [
    ...new Set(results.map((r) => /^hello from (\S+)/.exec(r.reply ?? "")?.[1]).filter(Boolean)),
  ];
  return {
    ok: true,
    ms,
    detail: backends.length > 0 ? `${label} -> ${backends.join(", ")}` : label,
  };
}

const node = (env: CheckEnv, i: number) => env.nodes[i]!;
/** The node NodePort traffic from elsewhere goes to: one without a check backend when there is one. */
const remoteNode = (env: CheckEnv) => env.nodes[Math.min(2, env.nodes.length - 1)]!;
const ip = (env: CheckEnv, pod: string) => env.pods.get(pod)!.ip;

export const SCENARIOS: readonly Scenario[] = [
  {
    name: "agents/ready",
    what: "every node's agent answers /readyz",
    minNodes: 1,
    async run(env) {
      const t0 = performance.now();
      const down = [];
      for (const n of env.nodes) if (!(await isReady(n.socket))) down.push(n.name);
      const ms = (performance.now() - t0) / env.nodes.length;
      return down.length === 0
        ? { ok: true, ms, detail: `${env.nodes.length} ready` }
        : { ok: false, ms, detail: `not ready: ${down.join(", ")}` };
    },
  },
  {
    name: "cni/check",
    what: "CNI CHECK of every pod: the agent's endpoint matches the kernel",
    minNodes: 1,
    async run(env) {
      const t0 = performance.now();
      const r = await env.cniCheckAll();
      const ms = (performance.now() - t0) / Math.max(1, r.pods);
      return r.failures.length === 0
        ? { ok: true, ms, detail: `${r.pods} pods` }
        : { ok: false, ms, detail: r.failures.join("; ") };
    },
  },
  {
    name: "pod-to-pod/same-node",
    what: "client -> echo-same, HTTP to the pod address, same node",
    minNodes: 1,
    run: (env) =>
      probes(
        env.from("client"),
        [{ proto: "http", host: ip(env, "echo-same"), port: ECHO_HTTP }],
        `${ip(env, "echo-same")}:${ECHO_HTTP}`,
      ),
  },
  {
    name: "pod-to-pod/cross-node",
    what: "client -> echo-other, HTTP, through the VPC",
    minNodes: 2,
    run: (env) =>
      probes(
        env.from("client"),
        [{ proto: "http", host: ip(env, "echo-other"), port: ECHO_HTTP }],
        `${ip(env, "echo-other")}:${ECHO_HTTP}`,
      ),
  },
  {
    name: "pod-to-pod/cross-node-udp",
    what: "client -> echo-other, UDP echo",
    minNodes: 2,
    run: (env) =>
      probes(
        env.from("client"),
        [{ proto: "udp", host: ip(env, "echo-other"), port: ECHO_UDP }],
        `${ip(env, "echo-other")}:${ECHO_UDP}/udp`,
      ),
  },
  {
    name: "pod-to-service/cluster-ip",
    what: "client -> the echo ClusterIP, 6 HTTP connections",
    minNodes: 1,
    run: (env) =>
      probes(
        env.from("client"),
        Array.from({ length: 6 }, () => ({
          proto: "http" as const,
          host: env.clusterIP,
          port: 80,
        })),
        `${env.clusterIP}:80`,
      ),
  },
  {
    name: "pod-to-service/cluster-ip-udp",
    what: "client -> the echo ClusterIP, UDP",
    minNodes: 1,
    run: (env) =>
      probes(
        env.from("client"),
        [{ proto: "udp", host: env.clusterIP, port: 53 }],
        `${env.clusterIP}:53/udp`,
      ),
  },
  {
    name: "pod-to-service/node-port-local",
    what: "client -> its own node's address, NodePort",
    minNodes: 1,
    run: (env) =>
      probes(
        env.from("client"),
        [{ proto: "http", host: node(env, 0).vpcIp, port: env.nodePort.tcp }],
        `${node(env, 0).vpcIp}:${env.nodePort.tcp}`,
      ),
  },
  {
    name: "pod-to-service/node-port-remote",
    what: "client -> another node's address, NodePort, 4 connections",
    minNodes: 2,
    run: (env) =>
      probes(
        env.from("client"),
        Array.from({ length: 4 }, () => ({
          proto: "http" as const,
          host: remoteNode(env).vpcIp,
          port: env.nodePort.tcp,
        })),
        `${remoteNode(env).vpcIp}:${env.nodePort.tcp}`,
      ),
  },
  {
    name: "outside-to-service/node-port",
    what: "the router (outside the cluster) -> a node's address, NodePort TCP and UDP",
    minNodes: 1,
    run: (env) =>
      probes(
        env.from("router"),
        [
          { proto: "http", host: remoteNode(env).vpcIp, port: env.nodePort.tcp },
          { proto: "udp", host: remoteNode(env).vpcIp, port: env.nodePort.udp },
        ],
        `${remoteNode(env).vpcIp}:${env.nodePort.tcp}`,
      ),
  },
  {
    name: "pod-to-outside",
    what: `client -> ${OUTSIDE_ADDRESS}:${OUTSIDE_PORT} behind the router, HTTP`,
    minNodes: 1,
    run: (env) =>
      probes(
        env.from("client"),
        [{ proto: "http", host: OUTSIDE_ADDRESS, port: OUTSIDE_PORT }],
        `${OUTSIDE_ADDRESS}:${OUTSIDE_PORT}`,
      ),
  },
  {
    name: "node-to-pod",
    what: "the last node's own namespace -> echo-same (as kubelet probes do)",
    minNodes: 1,
    run: (env) => {
      const n = env.nodes.at(-1)!;
      return probes(
        env.from(n.name),
        [{ proto: "http", host: ip(env, "echo-same"), port: ECHO_HTTP }],
        `${n.name} -> ${ip(env, "echo-same")}:${ECHO_HTTP}`,
      );
    },
  },
];
