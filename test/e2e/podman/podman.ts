// Podman for the e2e tests: rootful, CNI backend, configured by
// scripts/setup-podman.sh. Each test runs podman with its own containers.conf
// (CONTAINERS_CONF): the system drop-in written by the setup script, with the
// network config dir and plugin dirs pointed at the test's agent. Every
// container a test makes is named fwt..., tracked and removed when it ends.

import { execFile, execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { requireRoot, uniqueName } from "../../harness/index.ts";

export const IMAGE = "localhost/fairway-busybox:latest";
export const SYSTEM_DROPIN = "/etc/containers/containers.conf.d/50-fairway.conf";
const SETUP = "run: bash scripts/setup-podman.sh (or npm test, which runs it)";

/**
 * Throws unless podman is installed and set up (CNI backend, runc, the local
 * image): e2e tests fail loudly instead of skipping.
 */
export function requirePodman(): void {
  requireRoot();
  let info: string;
  try {
    info = execFileSync(
      "podman",
      [
        "info",
        "--format",
        "{{.Host.NetworkBackend}} {{.Host.OCIRuntime.Name}} {{.Store.GraphDriverName}}",
      ],
      { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    ).trim();
  } catch (err) {
    throw new Error(
      `podman is not installed or does not work (${(err as Error).message}); ${SETUP}`,
    );
  }
  if (info !== "cni runc vfs") {
    throw new Error(
      `podman is not set up for Fairway: got "${info}", want "cni runc vfs"; ${SETUP}`,
    );
  }
  if (!existsSync(SYSTEM_DROPIN)) throw new Error(`${SYSTEM_DROPIN} is missing; ${SETUP}`);
  try {
    execFileSync("podman", ["image", "exists", IMAGE]);
  } catch {
    throw new Error(`image ${IMAGE} is missing; ${SETUP}`);
  }
}

export interface PodmanResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A container's attachment as podman reports it. */
export interface ContainerNet {
  id: string;
  /** the network namespace podman made for it (changes on every start) */
  sandbox: string;
  ip: string;
}

export class Podman {
  readonly confPath: string;
  private readonly names = new Set<string>();
  /** ids and namespaces of every container inspected: what leak checks may count as ours */
  readonly ids = new Set<string>();
  readonly sandboxes = new Set<string>();

  /**
   * @param dir where the test's containers.conf is written
   * @param networkConfigDir where podman looks for CNI conflists (the agent's confDir)
   * @param pluginDirs where podman looks for CNI plugins (the agent's binDir first)
   */
  constructor(dir: string, networkConfigDir: string, pluginDirs: readonly string[]) {
    this.confPath = join(dir, "containers.conf");
    writeFileSync(this.confPath, testContainersConf(this.confPath, networkConfigDir, pluginDirs));
  }

  private get env(): NodeJS.ProcessEnv {
    return { PATH: process.env.PATH, CONTAINERS_CONF: this.confPath };
  }

  /** Runs podman; throws with its stderr unless it exits 0. */
  run(args: readonly string[], timeoutMs = 60_000): string {
    try {
      return execFileSync("podman", args, {
        encoding: "utf8",
        env: this.env,
        timeout: timeoutMs,
        stdio: ["ignore", "pipe", "pipe"],
      });
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      throw new Error(`podman ${args.join(" ")} failed: ${e.stderr?.trim() || e.message}`);
    }
  }

  /** Runs podman without throwing. */
  exec(args: readonly string[], timeoutMs = 60_000): Promise<PodmanResult> {
    return new Promise((resolve) => {
      execFile(
        "podman",
        args,
        { encoding: "utf8", env: this.env, timeout: timeoutMs },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  /** A container name of this test ("fwt" + tag...), removed by cleanup(). */
  name(tag: string): string {
    const name = uniqueName(tag);
    this.names.add(name);
    return name;
  }

  /** `podman run --rm` of a fresh container on `network`; throws unless it exits 0, else its stdout. */
  runOnce(tag: string, network: string, command: readonly string[]): string {
    return this.run([
      "run",
      "--rm",
      "--name",
      this.name(tag),
      "--network",
      network,
      IMAGE,
      ...command,
    ]);
  }

  /** Like runOnce, without throwing. */
  tryOnce(tag: string, network: string, command: readonly string[]): Promise<PodmanResult> {
    return this.exec([
      "run",
      "--rm",
      "--name",
      this.name(tag),
      "--network",
      network,
      IMAGE,
      ...command,
    ]);
  }

  /** Starts a detached container on `network`; returns its name. */
  start(tag: string, network: string, command: readonly string[]): string {
    const name = this.name(tag);
    this.run(["run", "-d", "--name", name, "--network", network, IMAGE, ...command]);
    return name;
  }

  /** The container's address on `network` (and its id and namespace, remembered). */
  ip(name: string, network: string): string {
    return this.remember(this.run(["inspect", "--format", inspectFormat(network), name])).ip;
  }

  /** Like ip(), without blocking the event loop; throws unless podman exits 0. */
  async inspect(name: string, network: string): Promise<ContainerNet> {
    const r = await this.exec(["inspect", "--format", inspectFormat(network), name]);
    if (r.code !== 0) throw new Error(`podman inspect ${name} failed: ${r.stderr.trim()}`);
    return this.remember(r.stdout);
  }

  private remember(line: string): ContainerNet {
    const [id = "", sandbox = "", ip = ""] = line.trim().split(" ");
    if (id) this.ids.add(id);
    if (sandbox) this.sandboxes.add(sandbox);
    return { id, sandbox, ip };
  }

  /** Removes the container now (stop timeout 0); podman calls CNI DEL on the way. */
  remove(name: string): void {
    this.run(["rm", "--force", "--time", "0", name]);
    this.names.delete(name);
  }

  /** Removes every container this object named that still exists. */
  cleanup(): void {
    const left = this.run(["ps", "-a", "--format", "{{.Names}}"])
      .split("\n")
      .filter((n) => this.names.has(n));
    if (left.length > 0) this.run(["rm", "--force", "--time", "0", ...left], 120_000);
    this.names.clear();
  }
}

const inspectFormat = (network: string) =>
  `{{.Id}} {{.NetworkSettings.SandboxKey}} {{(index .NetworkSettings.Networks "${network}").IPAddress}}`;

/**
 * The system drop-in's settings with the test's network dirs: CONTAINERS_CONF
 * replaces every other containers.conf, drop-ins included. conmon gets
 * CONTAINERS_CONF too, so the cleanup podman it runs when a container exits
 * (which calls CNI DEL) sees the same networks and plugins.
 */
export function testContainersConf(
  confPath: string,
  networkConfigDir: string,
  pluginDirs: readonly string[],
): string {
  const system = readFileSync(SYSTEM_DROPIN, "utf8");
  const dirs = `cni_plugin_dirs = ${JSON.stringify(pluginDirs)}`;
  let conf = system.replace(/^cni_plugin_dirs\s*=.*$/m, dirs);
  if (conf === system) throw new Error(`${SYSTEM_DROPIN} has no cni_plugin_dirs line; ${SETUP}`);
  conf = conf.replace(
    /^\[network\]$/m,
    `[network]\nnetwork_config_dir = ${JSON.stringify(networkConfigDir)}`,
  );
  const conmonEnv = `conmon_env_vars = ${JSON.stringify([`PATH=${process.env.PATH}`, `CONTAINERS_CONF=${confPath}`])}`;
  conf = conf.replace(/^\[engine\]$/m, `[engine]\n${conmonEnv}`);
  return conf;
}
