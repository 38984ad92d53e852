// Module "cni-install": puts Fairway's CNI plugin where the runtime finds it.
// start: copies the plugin bundle to <binDir>/fairway-cni.mjs (0755) and the C
// front end (native/cni/fairway-cni.c) to <binDir>/fairway-cni (0755), and
// writes <confDir>/05-fairway.conflist, each atomically and only when changed.
// The C front end asks the agent to run the plugin in-process (no Node start
// per pod operation) and execs fairway-cni.mjs when the agent is unreachable.
//   Without a built C front end, <binDir>/fairway-cni is a symlink to the .mjs.
//   Why a symlink: the bundle is an ES module. Node follows the symlink of its
//   main script, so it loads the .mjs as ESM by its extension; an extensionless
//   copy would depend on Node's module syntax detection (20.19+), which also
//   parses the file twice.
// It starts after every other module: a conflist in the conf dir tells kubelet
// the node's network is ready, so it appears only once ADD can be served.
// stop: leaves everything in place, so pods can still be deleted (their DELs
// are queued) while the agent restarts.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CNI_PLUGIN_TYPE, SUPPORTED_CNI_VERSIONS } from "../base/api.ts";
import { FairwayError } from "../base/errors.ts";
import type { Logger } from "../base/log.ts";
import type { ModuleDecl } from "../base/module.ts";
import { type AgentConfig, socketPath } from "./config.ts";
import { symlinkAtomic, writeFileAtomic } from "./fs-atomic.ts";

export const CONFLIST_NAME = "05-fairway.conflist";
export const CNI_INSTALL_MODULE_ID = "cni-install";

export interface CniInstallConfig {
  confDir: string;
  binDir: string;
  networkName: string;
  /** explicit bundle path; else found next to the agent bundle or in dist/ */
  pluginBundle?: string;
  /** explicit C front end; "none": JS plugin only; else found next to the agent bundle or in build/bin/ */
  pluginBinary?: string;
  agentSocket: string;
  mtu?: number;
}

export interface CniInstaller {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly conflistPath: string;
  /** <binDir>/fairway-cni: what runtimes exec (the C front end, or a symlink to bundlePath) */
  readonly pluginPath: string;
  /** <binDir>/fairway-cni.mjs: the bundle */
  readonly bundlePath: string;
}

/**
 * The conflist Fairway installs. `cniVersion` is 1.0.0 because runtimes built
 * on libcni < 1.2 (podman 4, containerd 1.7) refuse a 1.1.0 result; 1.1-aware
 * runtimes read `cniVersions` and pick 1.1.0 (GC, STATUS), as the spec intends.
 */
export function buildConflist(config: CniInstallConfig): string {
  const plugin: Record<string, unknown> = {
    type: CNI_PLUGIN_TYPE,
    agentSocket: config.agentSocket,
  };
  if (config.mtu !== undefined) plugin.mtu = config.mtu;
  const conflist = {
    cniVersion: "1.0.0",
    cniVersions: [...SUPPORTED_CNI_VERSIONS],
    name: config.networkName,
    plugins: [plugin],
  };
  return `${JSON.stringify(conflist, null, 2)}\n`;
}

/** Where the plugin bundle may be: next to the running agent bundle (dist/), or dist/ of the source tree. */
export function bundleCandidates(explicit: string | undefined): string[] {
  if (explicit) return [explicit];
  const here = dirname(fileURLToPath(import.meta.url));
  return [join(here, `${CNI_PLUGIN_TYPE}.js`), join(here, "../../dist", `${CNI_PLUGIN_TYPE}.js`)];
}

/** Where the C front end may be: next to the agent bundle (dist/), or in the source tree. */
export function binaryCandidates(explicit: string | undefined): string[] {
  if (explicit === "none") return [];
  if (explicit) return [explicit];
  const here = dirname(fileURLToPath(import.meta.url));
  return [
    join(here, CNI_PLUGIN_TYPE),
    join(here, "../../dist", CNI_PLUGIN_TYPE),
    join(here, "../../build/bin", CNI_PLUGIN_TYPE),
  ];
}

/**
 * @param after ids of the modules that must be started before the conflist appears
 */
export function cniInstallModule(
  after: readonly string[],
): ModuleDecl<CniInstallConfig, CniInstaller> {
  return {
    id: CNI_INSTALL_MODULE_ID,
    deps: after,
    config(agentConfig: unknown): CniInstallConfig {
      const c = agentConfig as AgentConfig;
      return {
        ...c.cni,
        agentSocket: socketPath(c),
        ...(c.mtu === undefined ? {} : { mtu: c.mtu }),
      };
    },
    create({ config, log }) {
      return new Installer(config, log);
    },
  };
}

class Installer implements CniInstaller {
  readonly conflistPath: string;
  readonly pluginPath: string;
  readonly bundlePath: string;

  constructor(
    private readonly config: CniInstallConfig,
    private readonly log: Logger,
  ) {
    this.conflistPath = join(config.confDir, CONFLIST_NAME);
    this.pluginPath = join(config.binDir, CNI_PLUGIN_TYPE);
    this.bundlePath = join(config.binDir, `${CNI_PLUGIN_TYPE}.mjs`);
  }

  async start(): Promise<void> {
    const candidates = bundleCandidates(this.config.pluginBundle);
    const bundle = candidates.find((p) => existsSync(p));
    if (!bundle) {
      throw new FairwayError(
        "E_CNI_BUNDLE_MISSING",
        `CNI plugin bundle not found (looked in ${candidates.join(", ")}); run: npm run build, or set cni.pluginBundle`,
        {
          details: { candidates },
        },
      );
    }
    const binary = this.findBinary();
    // The binaries first: a conflist naming a plugin that is not there yet would fail pods.
    // The bundle before the front end: the front end falls back to it.
    const wroteBundle = writeFileAtomic(this.bundlePath, readFileSync(bundle), 0o755);
    const wrotePlugin = binary
      ? writeFileAtomic(this.pluginPath, readFileSync(binary), 0o755)
      : symlinkAtomic(basename(this.bundlePath), this.pluginPath);
    const wroteConf = writeFileAtomic(this.conflistPath, buildConflist(this.config), 0o644);
    this.log.info(
      {
        plugin: this.pluginPath,
        from: bundle,
        frontEnd: binary ?? "none (symlink to the bundle)",
        updated: wroteBundle || wrotePlugin,
      },
      "CNI plugin installed",
    );
    this.log.info(
      { conflist: this.conflistPath, updated: wroteConf },
      "CNI network configuration installed",
    );
    this.warnIfShadowed();
  }

  /** The C front end to install, if any; an explicit path must exist. */
  private findBinary(): string | undefined {
    const explicit = this.config.pluginBinary;
    const candidates = binaryCandidates(explicit);
    const found = candidates.find((p) => existsSync(p));
    if (!found && explicit && explicit !== "none") {
      throw new FairwayError(
        "E_CNI_BINARY_MISSING",
        `CNI front end ${explicit} not found; build it with scripts/bootstrap.sh, or unset cni.pluginBinary`,
        { details: { candidates } },
      );
    }
    return found;
  }

  /** Runtimes use the first config file in lexical order: say so when another one wins. */
  private warnIfShadowed(): void {
    const earlier = readdirSync(this.config.confDir)
      .filter((n) => /\.(conf|conflist|json)$/.test(n) && !n.startsWith("."))
      .sort()
      .filter((n) => n < CONFLIST_NAME);
    if (earlier.length > 0) {
      this.log.warn(
        { confDir: this.config.confDir, earlier },
        `runtimes will use ${earlier[0]} instead of ${CONFLIST_NAME}`,
      );
    }
  }

  async stop(): Promise<void> {
    // Left in place on purpose (see the file comment).
  }
}
