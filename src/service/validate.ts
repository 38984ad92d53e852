// Reading a Service: which are skipped (headless, ExternalName, invalid) and
// the checked facts the model builds frontends from. An invalid field skips
// the whole service with a reason; every other service keeps working.

import { isIP } from "node:net";
import type { Service, ServicePort } from "../cluster/index.ts";
import { ALGORITHM_ANNOTATION, ALGORITHMS, type Algorithm } from "./config.ts";
import type { IpFamily, Protocol } from "./types.ts";

type ServiceSpec = NonNullable<Service["spec"]>;

/** kube-proxy's default ClientIP affinity timeout (3 hours). */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10_800;
const PROTOCOLS: readonly string[] = ["TCP", "UDP", "SCTP"];

export interface CheckedPort {
  readonly name: string;
  readonly protocol: Protocol;
  readonly port: number;
  readonly nodePort?: number;
}

export interface CheckedService {
  readonly key: string;
  readonly type: "ClusterIP" | "NodePort" | "LoadBalancer";
  readonly clusterIPs: readonly string[];
  readonly families: ReadonlySet<IpFamily>;
  readonly ports: readonly CheckedPort[];
  readonly externalIPs: readonly string[];
  readonly ingressIPs: readonly string[];
  readonly internalLocal: boolean;
  readonly externalLocal: boolean;
  readonly affinityTimeoutSeconds?: number;
  readonly algorithm: Algorithm;
  readonly problems: readonly string[];
}

export function familyOf(address: string): IpFamily | undefined {
  const v = isIP(address);
  return v === 4 ? "IPv4" : v === 6 ? "IPv6" : undefined;
}

/** The checked service, or the reason it is skipped. */
export function checkService(
  svc: Service,
  defaultAlgorithm: Algorithm,
): CheckedService | { skip: string } {
  const spec = svc.spec ?? {};
  const type = spec.type ?? "ClusterIP";
  if (type === "ExternalName") return { skip: "ExternalName service: DNS only" };
  const ips = checkClusterIPs(spec.clusterIPs, spec.clusterIP);
  if (typeof ips === "string") return { skip: ips };
  const { clusterIPs, families } = ips;
  const ports = checkPorts(spec.ports ?? [], type);
  if (typeof ports === "string") return { skip: ports };
  const affinity = checkAffinity(spec.sessionAffinity, spec.sessionAffinityConfig);
  if (typeof affinity === "string") return { skip: affinity };
  const problems: string[] = [];
  const sameFamily = (what: string, list: readonly string[]): string[] =>
    list.filter((ip) => {
      const f = familyOf(ip);
      if (f && families.has(f)) return true;
      problems.push(
        f
          ? `${what} ${ip}: the service has no ${f} cluster IP, ignored`
          : `${what} "${ip}" is not an IP address, ignored`,
      );
      return false;
    });
  const externalIPs = sameFamily("externalIP", spec.externalIPs ?? []);
  const ingress = svc.status?.loadBalancer?.ingress ?? [];
  const ingressIPs =
    type === "LoadBalancer"
      ? sameFamily(
          "load-balancer ingress",
          ingress.flatMap((g) => (g.ip ? [g.ip] : [])),
        )
      : [];
  return {
    key: `${svc.metadata.namespace ?? "default"}/${svc.metadata.name}`,
    type,
    clusterIPs,
    families,
    ports,
    externalIPs,
    ingressIPs,
    internalLocal: spec.internalTrafficPolicy === "Local",
    // kube-proxy: the external policy applies when the service is reachable from
    // outside at all (NodePort, LoadBalancer, or a ClusterIP with externalIPs).
    externalLocal:
      spec.externalTrafficPolicy === "Local" && (type !== "ClusterIP" || externalIPs.length > 0),
    ...(affinity !== undefined ? { affinityTimeoutSeconds: affinity } : {}),
    algorithm: checkAlgorithm(svc, defaultAlgorithm, problems),
    problems,
  };
}

/** The cluster IPs and their families, or why the service is skipped. */
function checkClusterIPs(
  clusterIPsField: readonly string[] | undefined,
  clusterIP: string | undefined,
): { clusterIPs: readonly string[]; families: Set<IpFamily> } | string {
  const clusterIPs = clusterIPsField?.length ? clusterIPsField : clusterIP ? [clusterIP] : [];
  if (clusterIPs[0] === "None") return "headless service: DNS only";
  if (clusterIPs.length === 0) return "no cluster IP allocated yet";
  const families = new Set<IpFamily>();
  for (const ip of clusterIPs) {
    const f = familyOf(ip);
    if (!f) return `invalid: clusterIP "${ip}" is not an IP address`;
    families.add(f);
  }
  return { clusterIPs, families };
}

/** The checked ports, or why the service is skipped. */
function checkPorts(
  ports: readonly ServicePort[],
  type: CheckedService["type"],
): CheckedPort[] | string {
  const out: CheckedPort[] = [];
  for (const [i, p] of ports.entries()) {
    const at = `ports[${i}]${p.name ? ` (${p.name})` : ""}`;
    const protocol = p.protocol ?? "TCP";
    if (!PROTOCOLS.includes(protocol)) return `invalid: ${at}: unknown protocol "${protocol}"`;
    if (!validPort(p.port)) return `invalid: ${at}: port ${String(p.port)}`;
    if (p.nodePort !== undefined && !validPort(p.nodePort))
      return `invalid: ${at}: nodePort ${String(p.nodePort)}`;
    out.push({
      name: p.name ?? "",
      protocol,
      port: p.port,
      ...(p.nodePort !== undefined && type !== "ClusterIP" ? { nodePort: p.nodePort } : {}),
    });
  }
  return out.length > 0 ? out : "no ports";
}

/** The ClientIP affinity timeout (undefined: no affinity), or why the service is skipped. */
function checkAffinity(
  affinity: string | undefined,
  config: ServiceSpec["sessionAffinityConfig"],
): number | undefined | string {
  if (affinity !== "ClientIP") return undefined;
  const t = config?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS;
  if (!Number.isInteger(t) || t < 1 || t > 86_400)
    return `invalid: sessionAffinityConfig.clientIP.timeoutSeconds ${t}`;
  return t;
}

/** The annotation's algorithm; an unknown value is a problem and falls back to the default. */
function checkAlgorithm(svc: Service, fallback: Algorithm, problems: string[]): Algorithm {
  const annotated = svc.metadata.annotations?.[ALGORITHM_ANNOTATION];
  if (annotated === undefined) return fallback;
  if ((ALGORITHMS as readonly string[]).includes(annotated)) return annotated as Algorithm;
  problems.push(
    `annotation ${ALGORITHM_ANNOTATION}: "${annotated}" is not one of ${ALGORITHMS.join(", ")}; using ${fallback}`,
  );
  return fallback;
}

function validPort(p: unknown): p is number {
  return typeof p === "number" && Number.isInteger(p) && p >= 1 && p <= 65_535;
}
