// Waiting until the agents have programmed what the lab wrote: for every
// Service, each running agent's service table (GET /v1/services) lists its
// ClusterIP and NodePort frontends as programmed, with exactly the ready
// endpoints of its EndpointSlices as backends. The agents follow the manifest
// directory on their own (fs.watch + a short debounce); this is how `apply`
// and `check` know the datapath caught up instead of guessing with a sleep.
import { callAgent, ROUTES } from "../base/api.ts";
import type { LabContext } from "./context.ts";
import { type EndpointSlice, SERVICE_NAME_LABEL, type Service } from "./objects/types.ts";

interface AgentFrontend {
  kind: string;
  port: number;
  protocol: string;
  programmed: boolean;
  backends: { address: string; port: number }[];
}

interface AgentServices {
  services: { key: string; frontends: AgentFrontend[] }[];
  skipped: { key: string }[];
}

export interface Convergence {
  converged: boolean;
  /** "<node>: <service> ..." for what was still different at the end */
  pending: string[];
  ms: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Want {
  /** "ClusterIP 80/TCP" -> backends as "ip:port" with the endpoint's node */
  frontends: Map<string, { local: boolean; backends: { at: string; node: string }[] }>;
}

/** What each service's frontends must hold, from the lab's Services and EndpointSlices. */
function expected(lab: LabContext): Map<string, Want> {
  const slices = lab.store.list("EndpointSlice") as EndpointSlice[];
  const out = new Map<string, Want>();
  for (const svc of lab.store.services() as Service[]) {
    const ip = svc.spec.clusterIP;
    if (!ip || ip === "None" || svc.spec.type === "ExternalName") continue;
    const mine = slices.filter(
      (s) =>
        s.metadata.namespace === svc.metadata.namespace &&
        s.metadata.labels?.[SERVICE_NAME_LABEL] === svc.metadata.name,
    );
    const frontends: Want["frontends"] = new Map();
    for (const sp of svc.spec.ports ?? []) {
      const protocol = sp.protocol ?? "TCP";
      const backends: { at: string; node: string }[] = [];
      for (const s of mine) {
        const port = (s.ports ?? []).find(
          (p) => (p.name ?? "") === (sp.name ?? "") && (p.protocol ?? "TCP") === protocol,
        );
        if (!port) continue;
        for (const e of s.endpoints ?? [])
          if (e.conditions?.ready !== false)
            backends.push({ at: `${e.addresses[0]}:${port.port}`, node: e.nodeName ?? "" });
      }
      const internalLocal = svc.spec.internalTrafficPolicy === "Local";
      const externalLocal = svc.spec.externalTrafficPolicy === "Local";
      frontends.set(`ClusterIP ${sp.port}/${protocol}`, { local: internalLocal, backends });
      if (sp.nodePort)
        frontends.set(`NodePort ${sp.nodePort}/${protocol}`, { local: externalLocal, backends });
    }
    out.set(`${svc.metadata.namespace}/${svc.metadata.name}`, { frontends });
  }
  return out;
}

/** The backend set a node's agent must hold: Local policies keep that node's endpoints only. */
function backendSet(
  node: string,
  f: { local: boolean; backends: { at: string; node: string }[] },
): string {
  const list = f.local ? f.backends.filter((b) => b.node === node) : f.backends;
  return [...new Set(list.map((b) => b.at))].sort().join(",");
}

function differences(node: string, want: Map<string, Want>, got: AgentServices): string[] {
  const skipped = new Set(got.skipped.map((s) => s.key));
  const entries = new Map(got.services.map((s) => [s.key, s]));
  const out: string[] = [];
  for (const [key, w] of want) {
    if (skipped.has(key)) continue;
    const entry = entries.get(key);
    if (!entry) {
      out.push(`${node}: ${key} not known yet`);
      continue;
    }
    const have = new Map<string, AgentFrontend[]>();
    for (const fe of entry.frontends) {
      const k = `${fe.kind} ${fe.port}/${fe.protocol}`;
      have.set(k, [...(have.get(k) ?? []), fe]);
    }
    for (const [k, f] of w.frontends) {
      const backends = backendSet(node, f);
      const list = have.get(k) ?? [];
      const ok =
        list.length > 0 &&
        list.every(
          (fe) =>
            fe.programmed &&
            fe.backends
              .map((b) => `${b.address}:${b.port}`)
              .sort()
              .join(",") === backends,
        );
      if (!ok) out.push(`${node}: ${key} ${k}`);
    }
  }
  return out;
}

/** Polls the agents until they match the lab's services (agents that do not answer are left out). */
export async function waitForServices(lab: LabContext, timeoutMs: number): Promise<Convergence> {
  const t0 = performance.now();
  const want = expected(lab);
  let pending: string[] = [];
  if (want.size === 0) return { converged: true, pending, ms: 0 };
  for (;;) {
    pending = [];
    for (const node of lab.plan.nodes) {
      let body: AgentServices;
      try {
        const r = await callAgent({
          socketPath: node.socket,
          method: "GET",
          path: ROUTES.services,
          connectTimeoutMs: 200,
          timeoutMs: 2000,
        });
        if (r.status !== 200) continue;
        body = r.body as AgentServices;
      } catch {
        continue; // an agent that is down cannot be waited for
      }
      pending.push(...differences(node.name, want, body));
    }
    const ms = performance.now() - t0;
    if (pending.length === 0) return { converged: true, pending, ms };
    if (ms > timeoutMs) return { converged: false, pending, ms };
    await sleep(20);
  }
}
