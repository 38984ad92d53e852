// Finds kernel objects named by the test suite (prefix "fwt") that are still
// there: network namespaces, links in the root namespace, bpffs pins, cgroups
// and tc filters are covered through the links and namespaces they live on.
// Returns a description per leftover and removes them, so that one broken test
// does not poison the next run.

import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, rmdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { bpffsRoot, cgroupRoot, TEST_PREFIX } from "./index.ts";

function lines(cmd: string, args: string[]): string[] {
  try {
    return execFileSync(cmd, args, { encoding: "utf8" }).split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

export function findLeftovers(): string[] {
  const found: string[] = [];
  for (const line of lines("ip", ["netns", "list"])) {
    const name = line.split(" ")[0]!;
    if (name.startsWith(TEST_PREFIX)) found.push(`netns ${name}`);
  }
  for (const line of lines("ip", ["-o", "link", "show"])) {
    const name = line.split(":")[1]?.trim().split("@")[0];
    if (name?.startsWith(TEST_PREFIX)) found.push(`link ${name}`);
  }
  if (existsSync(bpffsRoot)) {
    for (const entry of readdirSync(bpffsRoot)) {
      if (entry.startsWith(TEST_PREFIX)) found.push(`pin ${join(bpffsRoot, entry)}`);
    }
  }
  if (existsSync(cgroupRoot)) {
    for (const entry of readdirSync(cgroupRoot)) {
      if (entry.startsWith(TEST_PREFIX)) found.push(`cgroup ${join(cgroupRoot, entry)}`);
    }
  }
  return found;
}

export function removeLeftovers(found: string[]): void {
  for (const item of found) {
    const [kind, name] = item.split(" ") as [string, string];
    try {
      if (kind === "netns") execFileSync("ip", ["netns", "del", name]);
      else if (kind === "link") execFileSync("ip", ["link", "del", name]);
      else if (kind === "pin") rmSync(name, { recursive: true, force: true });
      else if (kind === "cgroup") rmdirSync(name);
    } catch {
      // best effort: the report already failed the suite
    }
  }
}
