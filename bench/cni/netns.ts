// Network namespaces for the CNI benchmark: created in batches before an ADD
// round (not timed, as a runtime creates the sandbox before calling CNI) and
// deleted after the DEL round. Every name starts with "fwb" and the owner
// deletes whatever it created, also when the run fails.

import { execFileSync } from "node:child_process";

export const BENCH_PREFIX = "fwb";

let counter = 0;

/** A unique name of at most 15 characters: "fwb" + tag + pid + counter, base 36. */
export function benchName(tag: string): string {
  counter += 1;
  const name = `${BENCH_PREFIX}${tag.slice(0, 3)}${process.pid.toString(36)}${counter.toString(36)}`;
  if (name.length > 15) throw new Error(`bench name ${name} longer than 15 characters`);
  return name;
}

function ipBatch(lines: string[]): void {
  if (lines.length === 0) return;
  execFileSync("ip", ["-force", "-batch", "-"], {
    input: `${lines.join("\n")}\n`,
    stdio: ["pipe", "ignore", "pipe"],
  });
}

export class NetnsSet {
  private readonly live = new Set<string>();

  /**
   * Creates `n` namespaces and returns their paths. Loopback stays down: runtimes
   * bring it up with their own call (or the loopback plugin), not the network's.
   */
  create(n: number): string[] {
    const names = Array.from({ length: n }, () => benchName("ns"));
    ipBatch(names.map((name) => `netns add ${name}`));
    for (const name of names) this.live.add(name);
    return names.map((name) => `/run/netns/${name}`);
  }

  /** Deletes the namespaces behind `paths` (which this set created). */
  remove(paths: readonly string[]): void {
    const names = paths.map((p) => p.slice("/run/netns/".length));
    ipBatch(names.filter((n) => this.live.has(n)).map((name) => `netns del ${name}`));
    for (const name of names) this.live.delete(name);
  }

  /** Deletes everything still alive; best effort, for the final cleanup. */
  removeAll(): void {
    for (const name of [...this.live]) {
      try {
        execFileSync("ip", ["netns", "del", name], { stdio: "ignore" });
      } catch {
        // already gone
      }
      this.live.delete(name);
    }
  }
}
