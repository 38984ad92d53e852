// The lab's network, all inside namespaces it creates: a "vpc" namespace with
// a bridge (the cloud network), a router namespace (default gateway, the
// outside world behind it), one namespace per node on the bridge, and each
// node's pod CIDR routed natively to that node (no overlay).
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { FairwayError } from "../base/errors.ts";
import {
  addAddress,
  createNetns,
  createVeth,
  netnsExists,
  netnsPath,
  replaceRoute,
  setLinkUp,
  writeSysctl,
} from "../datapath/net/index.ts";
import { type LabPlan, type NodePlan, OUTSIDE_ADDRESS, VPC_PREFIX_LEN } from "./plan.ts";

const exec = promisify(execFile);

/** iproute2 for what datapath/net has no helper for (bridges); never on a pod's path. */
async function ip(netns: string, args: string[]): Promise<void> {
  try {
    await exec("ip", ["-n", netns, ...args]);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new FairwayError("E_LAB_NET", `ip -n ${netns} ${args.join(" ")}: ${stderr ?? err}`, {
      cause: err,
    });
  }
}

/** Creates a namespace with lo up; `record` runs first, so a crash leaves it findable. */
export async function makeNamespace(name: string, record: (ns: string) => void): Promise<string> {
  record(name);
  if (!netnsExists(name)) await createNetns(name);
  const path = netnsPath(name);
  await setLinkUp("lo", { netns: path });
  return path;
}

export async function buildVpc(plan: LabPlan, record: (ns: string) => void): Promise<void> {
  const vpc = await makeNamespace(plan.vpcNetns, record);
  await ip(plan.vpcNetns, ["link", "add", plan.bridge, "type", "bridge"]);
  await setLinkUp(plan.bridge, { netns: vpc });
  const router = await makeNamespace(plan.routerNetns, record);
  await attach(plan, vpc, "router", router, plan.routerIp);
  await addAddress("lo", `${OUTSIDE_ADDRESS}/32`, { netns: router });
  writeSysctl("net.ipv4.ip_forward", 1, { netns: router });
}

/** A veth from the bridge into `netns` (named eth0 there) with `address` on it. */
async function attach(
  plan: LabPlan,
  vpc: string,
  port: string,
  netns: string,
  address: string,
): Promise<void> {
  await createVeth(
    { name: port, peerName: "eth0", peerNetns: netns, up: true, peerUp: true },
    { netns: vpc },
  );
  await ip(plan.vpcNetns, ["link", "set", port, "master", plan.bridge]);
  await addAddress("eth0", `${address}/${VPC_PREFIX_LEN}`, { netns });
}

export async function buildNode(
  plan: LabPlan,
  node: NodePlan,
  record: (ns: string) => void,
): Promise<void> {
  const path = await makeNamespace(node.netns, record);
  await attach(plan, netnsPath(plan.vpcNetns), node.vpcPort, path, node.vpcIp);
  writeSysctl("net.ipv4.ip_forward", 1, { netns: path });
  await replaceRoute({ dst: "default", gateway: plan.routerIp, dev: "eth0" }, { netns: path });
  // The node's own pod CIDR ends here: each pod has its /32 host route (from
  // the agent), and an address no pod holds is unreachable instead of bouncing
  // between the node's default route and the router until its TTL runs out.
  await replaceRoute({ dst: node.podCIDR, type: "unreachable" }, { netns: path });
  await replaceRoute(
    { dst: node.podCIDR, gateway: node.vpcIp, dev: "eth0" },
    { netns: netnsPath(plan.routerNetns) },
  );
}

/** Each node's pod CIDR via that node, on every other node. */
export async function routePodCIDRs(plan: LabPlan): Promise<void> {
  for (const node of plan.nodes) {
    for (const other of plan.nodes) {
      if (other === node) continue;
      await replaceRoute(
        { dst: other.podCIDR, gateway: other.vpcIp, dev: node.uplink },
        { netns: netnsPath(node.netns) },
      );
    }
  }
}
