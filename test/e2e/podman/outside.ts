// "Outside the node" for the e2e tests: a network namespace joined to the host
// by a veth that is the test node's uplink. The server address lives only in
// that namespace and the host reaches it by a /32 route over the veth, so
// traffic to it cannot go anywhere else; the namespace routes the pod CIDR back
// over the same veth. A busybox httpd there serves a token the test checks.
//
//   pod ── fairway ── host ns ──[uplink fwtup…]══[up0]── netns fwtout…  (SERVER_IP on lo)

import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Cleanup, run, tempNetns, uniqueName } from "../../harness/index.ts";

/** Addresses no one else on the machine uses (shared-address space, RFC 6598). */
export const OUTSIDE = {
  hostIp: "100.71.0.1",
  peerIp: "100.71.0.2",
  linkPrefix: 30,
  serverIp: "100.72.0.80",
  port: 8080,
} as const;

export interface Outside {
  netns: string;
  /** host side of the veth: the node's uplink */
  uplink: string;
  url: string;
  token: string;
  /** packets received by the namespace's end of the veth */
  rxPackets(): number;
}

export async function makeOutside(c: Cleanup, dir: string, podCIDR: string): Promise<Outside> {
  const ns = tempNetns(c, "out");
  const uplink = uniqueName("up");
  run("ip", ["link", "add", uplink, "type", "veth", "peer", "name", "up0", "netns", ns.name]);
  c.defer(() => {
    // Usually gone with the namespace already.
    try {
      run("ip", ["link", "del", uplink]);
    } catch {
      // deleted with its peer's namespace
    }
  });
  run("ip", ["addr", "add", `${OUTSIDE.hostIp}/${OUTSIDE.linkPrefix}`, "dev", uplink]);
  run("ip", ["link", "set", uplink, "up"]);
  run("ip", ["route", "add", `${OUTSIDE.serverIp}/32`, "via", OUTSIDE.peerIp, "dev", uplink]);
  const inNs = (args: string[]) => run("ip", ["-n", ns.name, ...args]);
  inNs(["addr", "add", `${OUTSIDE.peerIp}/${OUTSIDE.linkPrefix}`, "dev", "up0"]);
  inNs(["link", "set", "up0", "up"]);
  inNs(["addr", "add", `${OUTSIDE.serverIp}/32`, "dev", "lo"]);
  inNs(["route", "add", podCIDR, "via", OUTSIDE.hostIp, "dev", "up0"]);

  const token = `outside-${uniqueName("tok")}`;
  const www = join(dir, "outside-www");
  mkdirSync(www, { recursive: true });
  writeFileSync(join(www, "index.html"), `${token}\n`);
  const httpd = spawn(
    "ip",
    [
      "netns",
      "exec",
      ns.name,
      "busybox",
      "httpd",
      "-f",
      "-p",
      `${OUTSIDE.serverIp}:${OUTSIDE.port}`,
      "-h",
      www,
    ],
    { stdio: "ignore" },
  );
  // Before the namespace goes (cleanups run in reverse).
  c.defer(() => stopProcess(httpd));
  await waitListening(ns.name);
  return {
    netns: ns.name,
    uplink,
    url: `http://${OUTSIDE.serverIp}:${OUTSIDE.port}/`,
    token,
    rxPackets: () =>
      Number(
        run("ip", ["netns", "exec", ns.name, "cat", "/sys/class/net/up0/statistics/rx_packets"]),
      ),
  };
}

async function waitListening(ns: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const out = run("ip", ["netns", "exec", ns, "busybox", "netstat", "-ltn"]);
    if (out.includes(`${OUTSIDE.serverIp}:${OUTSIDE.port}`)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`httpd in ${ns} is not listening on ${OUTSIDE.serverIp}:${OUTSIDE.port}`);
}

async function stopProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once("exit", r));
  p.kill("SIGTERM");
  await exited;
}
