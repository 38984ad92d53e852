// What a leak check counts, scoped to what one test's node can leave behind
// (other suites run on this machine at the same time): links named with the
// node's prefix, addresses and routes on them or in its pod CIDR (every table,
// IPv4 and IPv6), tc filters on them and on its uplink, the namespaces podman
// made for its containers, libcni's cached results of them, entries of every
// pinned hash map, rows of every table in the agent's database, and the
// agent's endpoint records.

import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { type FairwayNode, linkNames, NETWORK } from "./node.ts";

export interface Inventory {
  links: string[];
  addresses: string[];
  routes: string[];
  tcFilters: string[];
  netns: string[];
  cniCache: string[];
  mapEntries: Record<string, number>;
  dbRows: Record<string, number>;
  endpoints: string[];
}

/** libcni's cache of ADD results (podman's CNI backend), one file per attachment. */
const CNI_CACHE = "/var/lib/cni/results";

function lines(cmd: string, args: string[]): string[] {
  return execFileSync(cmd, args, { encoding: "utf8" }).split("\n").filter(Boolean);
}

function v4(ip: string): number | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)/.exec(ip);
  if (!m) return undefined;
  return ((+m[1]! << 24) | (+m[2]! << 16) | (+m[3]! << 8) | +m[4]!) >>> 0;
}

/** True when the text's leading IPv4 address (or prefix) lies in cidr. */
export function inCidr(text: string, cidr: string): boolean {
  const [base, len] = cidr.split("/") as [string, string];
  const a = v4(text);
  const b = v4(base);
  if (a === undefined || b === undefined) return false;
  const mask = Number(len) === 0 ? 0 : (0xffffffff << (32 - Number(len))) >>> 0;
  return (a & mask) === (b & mask);
}

export async function takeInventory(node: FairwayNode, uplink?: string): Promise<Inventory> {
  const prefix = node.hostIfPrefix;
  const links = linkNames().filter((n) => n.startsWith(prefix));
  const mine = (line: string) =>
    links.some((l) => line.includes(` ${l} `) || line.endsWith(` ${l}`)) ||
    inCidr(
      line.replace(/^(local|broadcast|unicast|blackhole|unreachable|prohibit)\s+/, ""),
      node.podCIDR,
    );
  // "<index>: <dev> inet <address>/<len> ...": on a node link, or in the pod CIDR.
  const addresses = lines("ip", ["-o", "addr", "show"])
    .map((l) => l.replace(/\s+/g, " "))
    .filter((l) => {
      const [, dev, family, address] = l.split(" ");
      return (
        links.includes(dev ?? "") || (family === "inet" && inCidr(address ?? "", node.podCIDR))
      );
    });
  const routes = [
    ...lines("ip", ["-4", "route", "show", "table", "all"]),
    ...lines("ip", ["-6", "route", "show", "table", "all"]),
  ].filter(mine);
  const tcFilters: string[] = [];
  for (const dev of uplink ? [...links, uplink] : links) {
    for (const dir of ["ingress", "egress"]) {
      for (const l of lines("tc", ["filter", "show", "dev", dev, dir])) {
        if (l.startsWith("filter")) tcFilters.push(`${dev} ${dir}: ${l}`);
      }
    }
  }
  // Podman's namespaces and libcni's cache files of this node's containers
  // (other podman users on the machine are not ours to count).
  const netns = lines("ip", ["netns", "list"])
    .map((l) => l.split(" ")[0]!)
    .filter((n) => node.podman.sandboxes.has(`/run/netns/${n}`));
  const cniCache = existsSync(CNI_CACHE)
    ? readdirSync(CNI_CACHE).filter((f) =>
        [...node.podman.ids].some((id) => f.startsWith(`${NETWORK}-${id}-`)),
      )
    : [];
  return {
    links,
    addresses,
    routes,
    tcFilters,
    netns,
    cniCache,
    mapEntries: mapEntries(node.pinDir),
    dbRows: node.dbRows(),
    endpoints: (await node.endpoints()).map((e) => `${e.id} ${e.state} ${e.ips.join(",")}`),
  };
}

/**
 * Entries per pinned hash/LPM map under dir (bpftool's JSON dump). Arrays are
 * left out (their size never changes); pins that are not maps are skipped.
 */
function mapEntries(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  const walk = (d: string): void => {
    for (const entry of readdirSync(d)) {
      const path = join(d, entry);
      if (statSync(path).isDirectory()) {
        walk(path);
        continue;
      }
      try {
        const info = JSON.parse(
          execFileSync("bpftool", ["-j", "map", "show", "pinned", path], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "ignore"],
          }),
        ) as { type: string };
        if (!/hash|lpm/.test(info.type)) continue;
        const dump = JSON.parse(
          execFileSync("bpftool", ["-j", "map", "dump", "pinned", path], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "ignore"],
          }),
        ) as unknown[];
        out[path.slice(dir.length + 1)] = dump.length;
      } catch {
        // a program pin, a ring buffer: not a dumpable map
      }
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}
