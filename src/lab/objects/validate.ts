// What the API server would refuse, checked before anything is written: the
// kind and apiVersion, names, and the Pod and Service fields the lab acts on.
// Checks that need the lab's state (namespaces, nodes, clashes with other
// objects) are in admit.ts. Each problem is one line a person can act on.
import { isIPv4 } from "node:net";
import { selectorProblems } from "../../cluster/index.ts";
import { isMapping } from "./parse.ts";
import {
  type Container,
  LAB_KINDS,
  LAB_MADE_KINDS,
  type LabObject,
  type Pod,
  type Service,
  type ServicePort,
} from "./types.ts";

export interface Checked {
  object?: LabObject;
  problems: string[];
  warnings: string[];
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_1035 = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const PROTOCOLS = ["TCP", "UDP", "SCTP"];

/** IANA_SVC_NAME, what named ports must be: ≤15 chars, a-z 0-9 -, a letter, no "--". */
export function portNameProblem(name: unknown): string | undefined {
  if (typeof name !== "string" || name.length === 0 || name.length > 15)
    return "must be 1-15 characters";
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(name) || name.includes("--"))
    return "must be lower-case letters, digits and single dashes";
  if (!/[a-z]/.test(name)) return "must contain a letter";
  return undefined;
}

const isPort = (n: unknown): n is number =>
  Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 65535;

export function checkDocument(value: Record<string, unknown>): Checked {
  const { kind, apiVersion } = value;
  if (typeof kind !== "string" || kind === "") return fail("missing kind");
  const made = LAB_MADE_KINDS[kind];
  if (made) return fail(`${kind} cannot be applied: ${made}`);
  const spec = LAB_KINDS[kind];
  if (!spec) {
    return fail(
      `unknown kind "${kind}": the lab takes ${Object.keys(LAB_KINDS).join(", ")} (no controllers: write Pods, not Deployments)`,
    );
  }
  if (apiVersion !== spec.apiVersion)
    return fail(
      `${kind} needs apiVersion "${spec.apiVersion}", got ${JSON.stringify(apiVersion ?? null)}`,
    );
  const meta = value.metadata;
  if (!isMapping(meta)) return fail(`${kind}: missing metadata`);
  const name = meta.name;
  if (typeof name !== "string" || name === "") return fail(`${kind}: missing metadata.name`);
  const problems: string[] = [];
  if (!DNS_SUBDOMAIN.test(name))
    problems.push(`metadata.name "${name}" is not a lower-case DNS name`);
  if (spec.namespaced) {
    const ns = meta.namespace ?? "default";
    if (typeof ns !== "string" || !DNS_LABEL.test(ns))
      problems.push(`metadata.namespace ${JSON.stringify(ns)} is not a DNS label`);
  }
  for (const field of ["labels", "annotations"] as const) {
    const map = meta[field];
    if (map === undefined || map === null) continue;
    if (!isMapping(map)) problems.push(`metadata.${field} must be a mapping`);
    else
      for (const [k, v] of Object.entries(map))
        if (typeof v !== "string")
          problems.push(`metadata.${field}.${k} must be a string (quote it)`);
  }
  const object = normalize(value, spec.namespaced);
  const warnings: string[] = [];
  if (kind === "Pod") checkPod(object as Pod, problems, warnings);
  else if (kind === "Service") checkService(object as Service, problems);
  else if (kind === "Namespace" && !DNS_LABEL.test(name))
    problems.push(`namespace name "${name}" is not a DNS label`);
  else if (kind === "NetworkPolicy") checkPolicy(object, problems);
  else if (kind.startsWith("Fairway") && !isMapping(object.spec)) problems.push("missing spec");
  const who = `${kind.toLowerCase()}/${name}`;
  return {
    ...(problems.length === 0 ? { object } : {}),
    problems: problems.map((p) => `${who}: ${p}`),
    warnings: warnings.map((w) => `${who}: ${w}`),
  };
}

function fail(message: string): Checked {
  return { problems: [message], warnings: [] };
}

/** A copy with what the API server fills in, minus what users cannot set. */
function normalize(value: Record<string, unknown>, namespaced: boolean): LabObject {
  const o = structuredClone(value) as LabObject;
  const { name, namespace, labels, annotations } = o.metadata;
  o.metadata = {
    name,
    ...(namespaced ? { namespace: namespace ?? "default" } : {}),
    ...(labels ? { labels } : {}),
    ...(annotations ? { annotations } : {}),
  };
  delete o.status;
  return o;
}

function checkPod(pod: Pod, problems: string[], warnings: string[]): void {
  if (!isMapping(pod.spec)) {
    problems.push("missing spec");
    return;
  }
  const spec = pod.spec;
  if (spec.hostNetwork === true) problems.push("hostNetwork pods are not supported by the lab");
  if (spec.initContainers !== undefined) warnings.push("initContainers are ignored by the lab");
  if (spec.nodeName !== undefined && typeof spec.nodeName !== "string")
    problems.push("spec.nodeName must be a string");
  if (
    spec.restartPolicy !== undefined &&
    !["Always", "OnFailure", "Never"].includes(spec.restartPolicy)
  )
    problems.push(`spec.restartPolicy "${spec.restartPolicy}" is not Always, OnFailure or Never`);
  if (!Array.isArray(spec.containers) || spec.containers.length === 0) {
    problems.push("spec.containers: a pod needs at least one container");
    return;
  }
  const names = new Set<string>();
  const ports = new Map<string, string>();
  const portNames = new Set<string>();
  spec.containers.forEach((c: Container, i) => {
    if (!isMapping(c)) {
      problems.push(`spec.containers[${i}] must be a mapping`);
      return;
    }
    const at =
      typeof c.name === "string" && c.name ? `container "${c.name}"` : `spec.containers[${i}]`;
    if (typeof c.name !== "string" || !DNS_LABEL.test(c.name))
      problems.push(`${at}: name must be a DNS label`);
    else if (names.has(c.name)) problems.push(`${at}: the name is used twice`);
    else names.add(c.name);
    const hasImage = typeof c.image === "string" && c.image !== "";
    const hasCommand = Array.isArray(c.command) && c.command.length > 0;
    if (!hasImage && !hasCommand)
      problems.push(`${at} has neither image nor command (try image: fairway/echo, or a command)`);
    for (const field of ["command", "args"] as const) {
      const v = c[field];
      if (v !== undefined && (!Array.isArray(v) || v.some((x) => typeof x !== "string")))
        problems.push(`${at}: ${field} must be a list of strings`);
    }
    for (const e of c.env ?? []) {
      if (!isMapping(e) || typeof e.name !== "string")
        problems.push(`${at}: env entries need a name`);
      else if (e.value !== undefined && typeof e.value !== "string")
        problems.push(`${at}: env ${e.name} must be a string (quote it)`);
      else if ((e as Record<string, unknown>).valueFrom !== undefined)
        warnings.push(`${at}: env ${e.name}: valueFrom is not supported, left empty`);
    }
    (c.ports ?? []).forEach((p, j) => {
      const pat = `${at} ports[${j}]`;
      if (!isMapping(p) || !isPort(p.containerPort)) {
        problems.push(`${pat}: containerPort must be a number from 1 to 65535`);
        return;
      }
      p.protocol ??= "TCP";
      if (!PROTOCOLS.includes(p.protocol))
        problems.push(`${pat}: protocol "${p.protocol}" is not TCP, UDP or SCTP`);
      const key = `${p.containerPort}/${p.protocol}`;
      const other = ports.get(key);
      if (other) problems.push(`port clash: ${key} is declared by ${other} and ${at}`);
      ports.set(key, at);
      if (p.name !== undefined) {
        const bad = portNameProblem(p.name);
        if (bad) problems.push(`${pat}: port name "${String(p.name)}" ${bad}`);
        else if (portNames.has(p.name))
          problems.push(`${pat}: port name "${p.name}" is used twice`);
        portNames.add(p.name);
      }
    });
  });
}

function checkService(svc: Service, problems: string[]): void {
  if (!DNS_1035.test(svc.metadata.name))
    problems.push("a service name must start with a letter (lower-case DNS label)");
  if (!isMapping(svc.spec)) {
    problems.push("missing spec");
    return;
  }
  const spec = svc.spec;
  spec.type ??= "ClusterIP";
  if (!["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"].includes(spec.type)) {
    problems.push(
      `spec.type "${spec.type}" is not ClusterIP, NodePort, LoadBalancer or ExternalName`,
    );
    return;
  }
  if (spec.type === "ExternalName") {
    if (typeof spec.externalName !== "string" || spec.externalName === "")
      problems.push("an ExternalName service needs spec.externalName");
    return;
  }
  if (spec.selector !== undefined) {
    if (!isMapping(spec.selector)) problems.push("spec.selector must be a mapping of labels");
    else
      for (const [k, v] of Object.entries(spec.selector))
        if (typeof v !== "string") problems.push(`spec.selector.${k} must be a string (quote it)`);
  }
  const ip = spec.clusterIP;
  if (ip !== undefined && ip !== "" && ip !== "None" && !isIPv4(ip))
    problems.push(`spec.clusterIP "${ip}" is not an IPv4 address (or None)`);
  const ports = spec.ports ?? [];
  if (!Array.isArray(ports)) {
    problems.push("spec.ports must be a list");
    return;
  }
  if (ports.length === 0 && ip !== "None")
    problems.push("spec.ports: a service needs at least one port");
  checkServicePorts(spec.type, ports, problems);
}

function checkServicePorts(type: string, ports: ServicePort[], problems: string[]): void {
  const seen = new Map<string, number>();
  const names = new Set<string>();
  ports.forEach((p, i) => {
    const at = `spec.ports[${i}]`;
    if (!isMapping(p) || !isPort(p.port)) {
      problems.push(`${at}: port must be a number from 1 to 65535`);
      return;
    }
    p.protocol ??= "TCP";
    if (!PROTOCOLS.includes(p.protocol))
      problems.push(`${at}: protocol "${p.protocol}" is not TCP, UDP or SCTP`);
    const key = `${p.port}/${p.protocol}`;
    if (seen.has(key))
      problems.push(`port clash: ${key} is listed in spec.ports[${seen.get(key)}] and ${at}`);
    seen.set(key, i);
    if (ports.length > 1 && (typeof p.name !== "string" || p.name === ""))
      problems.push(`${at}: a service with several ports must name each`);
    if (p.name !== undefined && p.name !== "") {
      if (typeof p.name !== "string" || !DNS_LABEL.test(p.name))
        problems.push(`${at}: name must be a DNS label`);
      else if (names.has(p.name)) problems.push(`${at}: the port name "${p.name}" is used twice`);
      else names.add(p.name);
    }
    const tp = p.targetPort;
    if (tp !== undefined && !(isPort(tp) || (typeof tp === "string" && !portNameProblem(tp))))
      problems.push(`${at}: targetPort must be a port number or a container port name`);
    if (p.nodePort !== undefined) {
      if (type !== "NodePort" && type !== "LoadBalancer")
        problems.push(`${at}: nodePort needs type NodePort or LoadBalancer (this is ${type})`);
      else if (!Number.isInteger(p.nodePort)) problems.push(`${at}: nodePort must be a number`);
    }
  });
}

function checkPolicy(o: LabObject, problems: string[]): void {
  const spec = o.spec as { podSelector?: unknown } | undefined;
  if (!isMapping(spec)) {
    problems.push("missing spec");
    return;
  }
  if (!isMapping(spec.podSelector)) {
    problems.push("spec.podSelector is required ({} selects every pod of the namespace)");
    return;
  }
  for (const p of selectorProblems(spec.podSelector)) problems.push(`spec.podSelector: ${p}`);
}
