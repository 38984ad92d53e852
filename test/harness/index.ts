// Test harness shared by the datapath and e2e tiers: root check, unique names,
// owned cleanup and paths of the built artefacts. Every kernel object a test
// creates is named with the "fwt" prefix so the leftover check can find it.

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";

export const TEST_PREFIX = "fwt";
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "../..");
export const bpffsRoot = "/sys/fs/bpf";
export const cgroupRoot = "/sys/fs/cgroup/unified";

/**
 * Fails (throws) when the process is not root. Privileged tests call this first,
 * so that running them unprivileged is a loud failure rather than a quiet skip.
 */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error(
      "this test needs root: it creates network namespaces and loads BPF programs. " +
        "Run the suite as root (sudo npm test).",
    );
  }
  if (!existsSync(join(bpffsRoot, "."))) {
    throw new Error(`bpffs is not mounted at ${bpffsRoot}; run: npm run setup`);
  }
}

let counter = 0;

/**
 * A name unique to this process and call, at most 15 characters (IFNAMSIZ-1):
 * "fwt" + tag (up to 4 chars) + pid base36 + counter base36.
 */
export function uniqueName(tag: string): string {
  counter += 1;
  const name = `${TEST_PREFIX}${tag.slice(0, 4)}${process.pid.toString(36)}${counter.toString(36)}`;
  if (name.length > 15) throw new Error(`test name ${name} longer than 15 characters`);
  return name;
}

type CleanupFn = () => void | Promise<void>;

/** Runs registered releases in reverse order; every release runs even if one throws. */
export class Cleanup {
  private readonly fns: CleanupFn[] = [];

  defer(fn: CleanupFn): void {
    this.fns.push(fn);
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    while (this.fns.length > 0) {
      const fn = this.fns.pop()!;
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, "cleanup failed");
  }
}

/** A Cleanup released when the test ends, whether it passed or failed. */
export function cleanupFor(t: TestContext): Cleanup {
  const c = new Cleanup();
  t.after(() => c.run());
  return c;
}

/** Runs a command, returns stdout; throws with stderr in the message. */
export function run(cmd: string, args: string[], options: { input?: string } = {}): string {
  try {
    return execFileSync(cmd, args, {
      encoding: "utf8",
      stdio: ["pipe", "pipe", "pipe"],
      input: options.input,
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")} failed: ${e.stderr?.trim() || e.message}`);
  }
}

/** A throw-away network namespace created with iproute2, deleted at test end. */
export function tempNetns(c: Cleanup, tag: string): { name: string; path: string } {
  const name = uniqueName(tag);
  run("ip", ["netns", "add", name]);
  c.defer(() => {
    run("ip", ["netns", "del", name]);
  });
  run("ip", ["-n", name, "link", "set", "lo", "up"]);
  return { name, path: `/run/netns/${name}` };
}

/**
 * Waits until no IPv6 address of the namespace is "tentative": link-local
 * addresses are for about a second after a link comes up (duplicate address
 * detection), and until then neighbour solicitations cannot be sent.
 */
export async function waitNoTentative(ns: { name: string }, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (run("ip", ["-n", ns.name, "-6", "addr", "show", "tentative"]).trim() !== "") {
    if (Date.now() > deadline)
      throw new Error(`IPv6 addresses in ${ns.name} still tentative after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A throw-away bpffs directory for pins, removed (with its pins) at test end. */
export function tempPinDir(c: Cleanup, tag: string): string {
  const dir = join(bpffsRoot, uniqueName(tag));
  mkdirSync(dir, { recursive: true });
  c.defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Path of a built BPF object; fails loudly when the build is missing. */
export function bpfObject(name: string, kind: "product" | "test" = "product"): string {
  const path = join(repoRoot, "build/bpf", kind === "test" ? "test" : "", `${name}.o`);
  if (!existsSync(path)) {
    throw new Error(`BPF object ${path} is not built; run: npm run setup`);
  }
  return path;
}
