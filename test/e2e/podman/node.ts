// One Fairway node for a podman e2e test: a fairway-agent process (the
// product's module list, with the real "endpoint" backend) on a temp tree, its
// maps pinned in a unique bpffs dir, host veths named with a prefix unique to
// the test, and a Podman pointed at the conflist and plugin the agent
// installed. Released in reverse order when the test ends: containers (so
// their DELs reach the agent), the agent, then pins, leftover veths and dirs.

import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestContext } from "node:test";
import Database from "better-sqlite3";
import type { EndpointRecord } from "../../../src/base/api.ts";
import { type Cleanup, tempPinDir } from "../../harness/index.ts";
import {
  AGENT_ENTRIES,
  type AgentDirs,
  type AgentProcess,
  agentDirs,
  agentGet,
  buildPluginBundle,
  ROUTES,
  spawnAgent,
  tempDir,
  writeAgentConfig,
} from "../cni-fixtures/harness.ts";
import { Podman } from "./podman.ts";

export const NETWORK = "fairway";
export const CONFLIST = "05-fairway.conflist";
/** The CNI versions podman 4.3's libcni (CNI library 1.1) understands. */
export const PODMAN_CNI_VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0"];

export interface NodeOptions {
  podCIDR: string;
  /** the node's uplink (from_netdev is attached to it); must exist before start */
  uplink?: string;
}

/**
 * A pod CIDR for this test process: 10.247.<n>.0/24 with n from the pid and
 * `slot`, so two suites running on one machine at once rarely share a range
 * (a shared range would make their agents plumb the same addresses).
 */
export function podCidrFor(slot: number): string {
  return `10.247.${(process.pid * 4 + slot) % 256}.0/24`;
}

let prefixCounter = 0;

/** "fwt" + 4 characters unique to this process and call: 7, the most hostIfPrefix takes. */
function hostIfPrefix(): string {
  prefixCounter += 1;
  const pid = (process.pid % 36 ** 3).toString(36).padStart(3, "0");
  return `fwt${pid}${(prefixCounter % 36).toString(36)}`;
}

export class FairwayNode {
  readonly podman: Podman;
  /**
   * Why podman reads a copy of the agent's conflist instead of the agent's own
   * dir, when it must (see podmanNetworkDir); undefined when it reads it as is.
   */
  readonly conflistCompat: string | undefined;

  private constructor(
    readonly dirs: AgentDirs,
    readonly agent: AgentProcess,
    readonly hostIfPrefix: string,
    readonly pinDir: string,
    readonly podCIDR: string,
    podmanDir: string,
    compat: string | undefined,
  ) {
    this.conflistCompat = compat;
    this.podman = new Podman(podmanDir, this.podmanNetworkDir, [dirs.binDir, "/usr/lib/cni"]);
  }

  static async start(t: TestContext, c: Cleanup, options: NodeOptions): Promise<FairwayNode> {
    const root = tempDir(t, "podman");
    const dirs = agentDirs(root);
    const pinDir = tempPinDir(c, "pin");
    const prefix = hostIfPrefix();
    const bundle = await buildPluginBundle(root);
    writeAgentConfig(dirs, bundle.path, {
      nodeName: "podman-node",
      bpffsRoot: pinDir,
      log: { level: "info" },
      ipam: { podCIDRs: [options.podCIDR] },
      datapath: {
        mode: "veth",
        hostIfPrefix: prefix,
        ...(options.uplink ? { uplink: options.uplink } : {}),
      },
    });
    // Runs after the agent stopped (cleanups run in reverse): what it left of ours.
    c.defer(() => {
      deleteLinksWithPrefix(prefix);
    });
    const agent = spawnAgent(
      { after: (fn) => c.defer(fn) },
      AGENT_ENTRIES.product,
      ["--config", dirs.configFile],
      dirs.socket,
    );
    c.defer(async () => {
      // SIGTERM: the agent stops its modules (pins, links stay); SIGKILL if it hangs.
      const timer = setTimeout(() => agent.proc.kill("SIGKILL"), 15_000);
      await agent.stop("SIGTERM");
      clearTimeout(timer);
    });
    await agent.running();
    const compat = podmanCompatibleConflist(dirs, join(root, "podman-net.d"));
    const node = new FairwayNode(dirs, agent, prefix, pinDir, options.podCIDR, root, compat);
    c.defer(() => node.podman.cleanup());
    return node;
  }

  /** Where podman reads network configs: the agent's confDir, or the compat copy. */
  get podmanNetworkDir(): string {
    return this.conflistCompat ? join(this.dirs.root, "podman-net.d") : this.dirs.confDir;
  }

  async endpoints(): Promise<EndpointRecord[]> {
    const res = await agentGet(this.dirs.socket, ROUTES.endpoints);
    if (res.status !== 200)
      throw new Error(`GET /v1/endpoints: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as EndpointRecord[];
  }

  get dbPath(): string {
    return join(this.dirs.root, "state", "fairway.db");
  }

  /** Rows per table of the agent's state database (bookkeeping tables left out). */
  dbRows(): Record<string, number> {
    const db = new Database(this.dbPath, { readonly: true, fileMustExist: true });
    try {
      const tables = db
        .prepare(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'fairway_migrations' ORDER BY name",
        )
        .all() as { name: string }[];
      const out: Record<string, number> = {};
      for (const { name } of tables) {
        out[name] = (db.prepare(`SELECT count(*) AS n FROM "${name}"`).get() as { n: number }).n;
      }
      return out;
    } finally {
      db.close();
    }
  }

  /** The IPAM row holding `ip`, if any. */
  ipamRow(ip: string): Record<string, unknown> | undefined {
    const db = new Database(this.dbPath, { readonly: true, fileMustExist: true });
    try {
      return db.prepare("SELECT * FROM ipam_allocations WHERE ip = ?").get(ip) as
        | Record<string, unknown>
        | undefined;
    } finally {
      db.close();
    }
  }
}

/**
 * Podman 4.3 (libcni 1.1) refuses results of cniVersion 1.1.0 ("unsupported
 * CNI result version"). When the agent's conflist asks for a version podman
 * does not speak, podman gets a copy that differs only in `cniVersion`
 * ("1.0.0", which the conflist's own `cniVersions` list offers), and the reason
 * is returned so the test can say so. When the conflist is fine as written,
 * podman reads the agent's confDir directly and this returns undefined.
 */
function podmanCompatibleConflist(dirs: AgentDirs, copyDir: string): string | undefined {
  const text = readFileSync(join(dirs.confDir, CONFLIST), "utf8");
  const conflist = JSON.parse(text) as { cniVersion: string; cniVersions?: string[] };
  if (PODMAN_CNI_VERSIONS.includes(conflist.cniVersion)) return undefined;
  mkdirSync(copyDir, { recursive: true });
  writeFileSync(
    join(copyDir, CONFLIST),
    JSON.stringify({ ...conflist, cniVersion: "1.0.0" }, null, 2),
  );
  return `the agent's conflist says cniVersion ${conflist.cniVersion}, which podman 4.3 cannot read; podman uses a copy with cniVersion 1.0.0`;
}

/** Deletes root-namespace links named <prefix>...; returns their names. */
export function deleteLinksWithPrefix(prefix: string): string[] {
  const names = linkNames().filter((n) => n.startsWith(prefix));
  for (const name of names) {
    try {
      execFileSync("ip", ["link", "del", name], { stdio: "ignore" });
    } catch {
      // gone meanwhile
    }
  }
  return names;
}

export function linkNames(netns?: string): string[] {
  const args = [...(netns ? ["-n", netns] : []), "-o", "link", "show"];
  return execFileSync("ip", args, { encoding: "utf8" })
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split(":")[1]?.trim().split("@")[0] ?? "");
}
