// The API server's part of `lab apply`, for a whole batch before anything is
// written: duplicates, namespaces, node names, immutable fields, and the
// allocation of ClusterIPs (SERVICE_CIDR) and NodePorts (NODE_PORT_RANGE),
// refusing clashes with other services. Pure: it reads the store, it only
// fills in the batch's objects.
import { NODE_PORT_RANGE, SERVICE_CIDR } from "../plan.ts";
import { canonical, type ObjectStore } from "./store.ts";
import {
  keyOf,
  type LabObject,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  type Pod,
  refOf,
  type Service,
} from "./types.ts";

export interface AdmitContext {
  store: ObjectStore;
  nodes: readonly string[];
}

function ipToInt(ip: string): number {
  return ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
}

function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

const [cidrBase, cidrLen] = SERVICE_CIDR.split("/") as [string, string];
const FIRST_IP = ipToInt(cidrBase);
const LAST_IP = FIRST_IP + 2 ** (32 - Number(cidrLen)) - 1;
/** .1 is the kubernetes service's address in a real cluster; the lab starts at .10. */
const FIRST_ALLOCATED = FIRST_IP + 10;

export function inServiceCidr(ip: string): boolean {
  const n = ipToInt(ip);
  return n > FIRST_IP && n < LAST_IP;
}

/** Checks the batch against the lab; fills in ClusterIPs and NodePorts. Returns problems. */
export function admit(batch: LabObject[], ctx: AdmitContext): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  const namespaces = new Set(ctx.store.list("Namespace").map((n) => n.metadata.name));
  for (const o of batch) if (o.kind === "Namespace") namespaces.add(o.metadata.name);
  for (const o of batch) {
    const key = keyOf(o);
    if (seen.has(key)) problems.push(`${refOf(o)}: given twice`);
    seen.add(key);
    const ns = o.metadata.namespace;
    if (ns !== undefined && !namespaces.has(ns))
      problems.push(
        `${refOf(o)}: namespace "${ns}" not found (apply a Namespace named ${ns} first, or in the same file)`,
      );
    if (o.kind === "Pod") admitPod(o as Pod, ctx, problems);
    if (o.kind === "EndpointSlice" && o.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY)
      problems.push(
        `${refOf(o)}: slices labelled ${MANAGED_BY_LABEL}=${MANAGED_BY} are the lab's own`,
      );
  }
  const services = batch.filter((o): o is Service => o.kind === "Service");
  if (services.length > 0) problems.push(...allocate(services, ctx.store));
  return problems;
}

function admitPod(pod: Pod, ctx: AdmitContext, problems: string[]): void {
  const node = pod.spec.nodeName;
  if (node !== undefined && !ctx.nodes.includes(node))
    problems.push(
      `${refOf(pod)}: spec.nodeName "${node}" is not a lab node (${ctx.nodes.join(", ")})`,
    );
  const old = ctx.store.get("Pod", pod.metadata.namespace, pod.metadata.name) as Pod | undefined;
  if (!old) return;
  const spec = { ...pod.spec, nodeName: pod.spec.nodeName ?? old.spec.nodeName };
  if (canonical(spec) !== canonical(old.spec)) {
    problems.push(
      `${refOf(pod)}: a pod's spec cannot change (only labels and annotations); delete it first: fairway lab delete pod ${pod.metadata.name} -n ${pod.metadata.namespace}`,
    );
  }
}

interface Taken {
  ips: Map<string, string>;
  nodePorts: Map<number, string>;
}

/** What other services hold: everything in the store except the batch's own objects. */
function taken(store: ObjectStore, batchKeys: Set<string>): Taken {
  const t: Taken = { ips: new Map(), nodePorts: new Map() };
  for (const s of store.services()) {
    if (batchKeys.has(keyOf(s))) continue;
    hold(t, s);
  }
  return t;
}

function hold(t: Taken, s: Service): void {
  const who = `service ${s.metadata.namespace}/${s.metadata.name}`;
  const ip = s.spec.clusterIP;
  if (ip && ip !== "None") t.ips.set(ip, who);
  for (const p of s.spec.ports ?? []) if (p.nodePort) t.nodePorts.set(p.nodePort, who);
}

function allocate(services: Service[], store: ObjectStore): string[] {
  const problems: string[] = [];
  const t = taken(store, new Set(services.map(keyOf)));
  for (const svc of services) {
    const old = store.get("Service", svc.metadata.namespace, svc.metadata.name) as
      | Service
      | undefined;
    const before = problems.length;
    if (svc.spec.type !== "ExternalName") {
      allocateIp(svc, old, t, problems);
      allocateNodePorts(svc, old, t, problems);
    }
    if (problems.length === before) hold(t, svc);
  }
  return problems;
}

function allocateIp(svc: Service, old: Service | undefined, t: Taken, problems: string[]): void {
  const want = svc.spec.clusterIP;
  const had = old?.spec.clusterIP;
  if (want && had && want !== had) {
    problems.push(
      `${refOf(svc)}: spec.clusterIP is immutable (it is ${had}); delete the service to change it`,
    );
    return;
  }
  if (want === "None") {
    svc.spec.clusterIPs = ["None"];
    return;
  }
  if (want) {
    if (!inServiceCidr(want)) {
      problems.push(
        `${refOf(svc)}: spec.clusterIP ${want} is not in the lab's service range ${SERVICE_CIDR}`,
      );
      return;
    }
    const holder = t.ips.get(want);
    if (holder) {
      problems.push(`${refOf(svc)}: spec.clusterIP ${want} is already allocated to ${holder}`);
      return;
    }
  }
  let ip = want || had;
  if (!ip) {
    for (let n = FIRST_ALLOCATED; n < LAST_IP && !ip; n++)
      if (!t.ips.has(intToIp(n))) ip = intToIp(n);
    if (!ip) {
      problems.push(`${refOf(svc)}: no ClusterIP left in ${SERVICE_CIDR}`);
      return;
    }
  }
  svc.spec.clusterIP = ip;
  svc.spec.clusterIPs = [ip];
  svc.spec.ipFamilies = ["IPv4"];
}

function allocateNodePorts(
  svc: Service,
  old: Service | undefined,
  t: Taken,
  problems: string[],
): void {
  const ports = svc.spec.ports ?? [];
  if (svc.spec.type !== "NodePort" && svc.spec.type !== "LoadBalancer") {
    for (const p of ports) delete p.nodePort;
    return;
  }
  const mine = new Map<number, string>();
  for (const p of ports) {
    if (p.nodePort === undefined) continue;
    const at = `${refOf(svc)}: nodePort ${p.nodePort}`;
    if (p.nodePort < NODE_PORT_RANGE.min || p.nodePort > NODE_PORT_RANGE.max)
      problems.push(`${at} is outside the range ${NODE_PORT_RANGE.min}-${NODE_PORT_RANGE.max}`);
    else if (t.nodePorts.has(p.nodePort))
      problems.push(`port clash: ${at} is already allocated to ${t.nodePorts.get(p.nodePort)}`);
    else if (mine.has(p.nodePort) && mine.get(p.nodePort) === p.protocol)
      problems.push(`port clash: ${at} is given twice`);
    mine.set(p.nodePort, p.protocol ?? "TCP");
  }
  for (const p of ports) {
    if (p.nodePort !== undefined) continue;
    const kept = old?.spec.ports?.find(
      (q) => q.port === p.port && (q.protocol ?? "TCP") === p.protocol && q.nodePort,
    )?.nodePort;
    if (kept && !mine.has(kept) && !t.nodePorts.has(kept)) {
      p.nodePort = kept;
    } else {
      for (let n = NODE_PORT_RANGE.min; n <= NODE_PORT_RANGE.max && p.nodePort === undefined; n++)
        if (!mine.has(n) && !t.nodePorts.has(n)) p.nodePort = n;
      if (p.nodePort === undefined) {
        problems.push(
          `${refOf(svc)}: no NodePort left in ${NODE_PORT_RANGE.min}-${NODE_PORT_RANGE.max}`,
        );
        continue;
      }
    }
    mine.set(p.nodePort, p.protocol ?? "TCP");
  }
}
