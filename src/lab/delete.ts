// `lab delete -f FILE` and `lab delete KIND NAME...`: pods are stopped (their
// processes, CNI DEL, namespace, cgroup), a namespace takes everything in it,
// the EndpointSlices follow. Objects that are not there are reported and the
// others deleted anyway, as kubectl does.
import { FairwayError } from "../base/errors.ts";
import type { LabContext } from "./context.ts";
import { waitForServices } from "./converge.ts";
import { stopPod } from "./kubelet/pods.ts";
import { readInputs } from "./objects/parse.ts";
import { keyOf, LAB_KINDS, LAB_MADE_KINDS, type LabObject, refOf } from "./objects/types.ts";
import { syncPodStatus } from "./podstatus.ts";

export interface DeleteTarget {
  kind: string;
  name: string;
  namespace?: string;
}

export interface DeleteReport {
  deleted: string[];
  notFound: string[];
  warnings: string[];
}

/** kubectl's names for kinds: pod, pods, po, svc, ns, netpol... */
const ALIASES: Record<string, string> = {
  pod: "Pod",
  pods: "Pod",
  po: "Pod",
  service: "Service",
  services: "Service",
  svc: "Service",
  namespace: "Namespace",
  namespaces: "Namespace",
  ns: "Namespace",
  networkpolicy: "NetworkPolicy",
  networkpolicies: "NetworkPolicy",
  netpol: "NetworkPolicy",
  fairwaynetworkpolicy: "FairwayNetworkPolicy",
  fairwaynetworkpolicies: "FairwayNetworkPolicy",
  fairwayclusterwidenetworkpolicy: "FairwayClusterwideNetworkPolicy",
  fairwayclusterwidenetworkpolicies: "FairwayClusterwideNetworkPolicy",
  endpointslice: "EndpointSlice",
  endpointslices: "EndpointSlice",
  node: "Node",
  nodes: "Node",
};

export function kindOf(word: string): string {
  const kind = ALIASES[word.toLowerCase()] ?? (LAB_KINDS[word] ? word : undefined);
  if (!kind)
    throw new FairwayError(
      "E_LAB_USAGE",
      `unknown resource type "${word}" (pods, services, namespaces, networkpolicies, fairwaynetworkpolicies, fairwayclusterwidenetworkpolicies, endpointslices)`,
    );
  return kind;
}

/** The objects a file names (kind, namespace, name), without checking the rest of them. */
export function targetsOfFiles(paths: readonly string[]): DeleteTarget[] {
  const { docs, problems } = readInputs(paths);
  if (problems.length > 0)
    throw new FairwayError(
      "E_LAB_INVALID",
      `cannot read the input; nothing was deleted:\n  ${problems.map((p) => `${p.where}: ${p.message}`).join("\n  ")}`,
    );
  return docs.map(({ where, value }) => {
    const kind = value.kind;
    const name = (value.metadata as { name?: unknown } | undefined)?.name;
    if (typeof kind !== "string" || typeof name !== "string")
      throw new FairwayError(
        "E_LAB_INVALID",
        `${where}: needs kind and metadata.name; nothing was deleted`,
      );
    const ns = (value.metadata as { namespace?: unknown }).namespace;
    return {
      kind,
      name,
      ...(LAB_KINDS[kind]?.namespaced
        ? { namespace: typeof ns === "string" ? ns : "default" }
        : {}),
    };
  });
}

export async function deleteObjects(
  lab: LabContext,
  targets: readonly DeleteTarget[],
  graceMs = 2000,
): Promise<DeleteReport> {
  const report: DeleteReport = { deleted: [], notFound: [], warnings: [] };
  syncPodStatus(lab);
  const doomed: LabObject[] = [];
  for (const t of targets) {
    if (LAB_MADE_KINDS[t.kind])
      throw new FairwayError(
        "E_LAB_USAGE",
        `${t.kind} cannot be deleted: ${LAB_MADE_KINDS[t.kind]}; use fairway lab down`,
      );
    if (t.kind === "Namespace" && t.name === "default")
      throw new FairwayError(
        "E_LAB_USAGE",
        `namespace "default" cannot be deleted (as in Kubernetes); nothing was deleted`,
      );
    const o = lab.store.get(
      t.kind,
      LAB_KINDS[t.kind]?.namespaced ? (t.namespace ?? "default") : undefined,
      t.name,
    );
    if (!o) {
      report.notFound.push(
        `${t.kind.toLowerCase()}s "${t.name}" not found${t.namespace ? ` in namespace ${t.namespace}` : ""}`,
      );
      continue;
    }
    if (o.kind === "Namespace") {
      for (const kind of Object.keys(LAB_KINDS))
        doomed.push(...lab.store.list(kind, o.metadata.name));
    }
    doomed.push(o);
  }
  const unique = [...new Map(doomed.map((o) => [keyOf(o), o])).values()];
  const records = lab.records();
  const pods = unique.filter((o) => o.kind === "Pod");
  if (pods.length > 0) {
    const kubelet = await lab.kubelet();
    await Promise.all(
      pods.map(async (p) => {
        const rec = records.get(`${p.metadata.namespace}/${p.metadata.name}`);
        if (rec) report.warnings.push(...(await stopPod(kubelet, rec, graceMs)));
      }),
    );
  }
  for (const o of unique) {
    lab.store.remove(o);
    if (targets.some((t) => t.kind === o.kind && t.name === o.metadata.name))
      report.deleted.push(refOf(o));
  }
  report.warnings.push(...syncPodStatus(lab));
  const c = await waitForServices(lab, 10_000);
  if (!c.converged)
    report.warnings.push(
      `the agents have not caught up after ${Math.round(c.ms)} ms: ${c.pending.slice(0, 5).join("; ")}`,
    );
  return report;
}
