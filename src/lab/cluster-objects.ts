// The objects `lab up` makes itself: the default namespace, one Node per lab
// node (addresses, pod CIDR, Ready), and the "outside" HTTP server on the
// router (198.51.100.1:80), which pods reach through their node's default route.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ensureCgroup } from "./cgroups.ts";
import { startContainer } from "./kubelet/process.ts";
import type { ObjectStore } from "./objects/store.ts";
import { type LabPlan, OUTSIDE_ADDRESS, OUTSIDE_PORT, routerCgroupFor } from "./plan.ts";

export function writeClusterObjects(store: ObjectStore, plan: LabPlan): void {
  store.put({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: "default" },
    status: { phase: "Active" },
  });
  for (const node of plan.nodes) {
    store.put({
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name: node.name,
        labels: {
          "kubernetes.io/hostname": node.name,
          "kubernetes.io/os": "linux",
          "fairway.io/lab": plan.prefix,
        },
      },
      spec: { podCIDR: node.podCIDR, podCIDRs: [node.podCIDR] },
      status: {
        addresses: [
          { type: "InternalIP", address: node.vpcIp },
          { type: "Hostname", address: node.name },
        ],
        conditions: [{ type: "Ready", status: "True", reason: "FairwayAgentReady" }],
      },
    });
  }
}

/** Starts the outside server in the router's namespace and cgroup; returns the supervisor's pid. */
export function startOutside(
  plan: LabPlan,
  cgroupMount: string,
  kubelet: { podServer: string[]; supervisor: string },
): number {
  const cgroup = join(cgroupMount, routerCgroupFor(plan.prefix));
  ensureCgroup(cgroup);
  const dir = join(plan.stateDir, "router");
  mkdirSync(dir, { recursive: true });
  return startContainer({
    supervisor: kubelet.supervisor,
    netnsPath: `/run/netns/${plan.routerNetns}`,
    cgroupPath: cgroup,
    argv: [
      ...kubelet.podServer,
      "serve",
      "--tcp",
      String(OUTSIDE_PORT),
      "--udp",
      String(OUTSIDE_PORT),
    ],
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      POD_NAME: "outside",
      POD_NAMESPACE: "-",
      POD_IP: OUTSIDE_ADDRESS,
      NODE_NAME: plan.routerNetns,
    },
    cwd: dir,
    logFile: join(dir, "outside.log"),
    statusFile: join(dir, "outside.exits"),
    restartPolicy: "Always",
  });
}
