// The lab as a CNI runtime (libcni's part): read the node's network
// configuration (the first *.conflist / *.conf in its conf dir, lexically, as
// kubelet does), and exec each plugin from the node's bin dir with the CNI_*
// environment and the network config on stdin, exactly as containerd would.
// The runtime caches the ADD result and hands it to DEL and CHECK as prevResult.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { FairwayError } from "../../base/errors.ts";

/** The newest version this runtime speaks (CNI spec 1.1). */
const RUNTIME_VERSION = "1.1.0";

export interface NetworkConfig {
  file: string;
  name: string;
  cniVersion: string;
  plugins: Record<string, unknown>[];
}

export interface CniRuntime {
  confDir: string;
  binDir: string;
}

export interface CniCall {
  containerId: string;
  netns: string;
  ifName: string;
  /** K8S_POD_NAMESPACE, K8S_POD_NAME, ... */
  args: Record<string, string>;
  prevResult?: unknown;
}

export interface CniAddResult {
  result: Record<string, unknown>;
  /** the first IPv4 address, without its prefix length */
  ip: string;
  ms: number;
}

/** The node's network config; E_LAB_CNI when there is none (the agent writes it once ready). */
export function loadNetwork(confDir: string): NetworkConfig {
  let names: string[];
  try {
    names = readdirSync(confDir)
      .filter((n) => /\.(conflist|conf|json)$/.test(n) && !n.startsWith("."))
      .sort();
  } catch {
    names = [];
  }
  const file = names[0];
  if (!file)
    throw new FairwayError(
      "E_LAB_CNI",
      `no CNI network configuration in ${confDir}: is the node's agent running?`,
    );
  const conf = JSON.parse(readFileSync(join(confDir, file), "utf8")) as Record<string, unknown>;
  const plugins = Array.isArray(conf.plugins)
    ? (conf.plugins as Record<string, unknown>[])
    : [conf];
  const versions = Array.isArray(conf.cniVersions) ? (conf.cniVersions as string[]) : [];
  // A 1.1 runtime picks the newest version both sides know (spec 1.1, "cniVersions").
  const cniVersion = versions.includes(RUNTIME_VERSION) ? RUNTIME_VERSION : String(conf.cniVersion);
  return { file: join(confDir, file), name: String(conf.name), cniVersion, plugins };
}

function execPlugin(
  rt: CniRuntime,
  command: string,
  conf: Record<string, unknown>,
  call: CniCall,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const args = ["IgnoreUnknown=1", ...Object.entries(call.args).map(([k, v]) => `${k}=${v}`)].join(
    ";",
  );
  const child = spawn(join(rt.binDir, String(conf.type)), [], {
    env: {
      CNI_COMMAND: command,
      CNI_CONTAINERID: call.containerId,
      CNI_NETNS: call.netns,
      CNI_IFNAME: call.ifName,
      CNI_ARGS: args,
      CNI_PATH: rt.binDir,
      PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  child.stdin.end(JSON.stringify(conf));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(
        new FairwayError(
          "E_LAB_CNI",
          `cannot run CNI plugin ${String(conf.type)}: ${err.message}`,
          { cause: err },
        ),
      );
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function invoke(
  rt: CniRuntime,
  command: "ADD" | "DEL" | "CHECK",
  call: CniCall,
): Promise<Record<string, unknown> | undefined> {
  const net = loadNetwork(rt.confDir);
  const plugins = command === "DEL" ? [...net.plugins].reverse() : net.plugins;
  let prev = call.prevResult;
  for (const plugin of plugins) {
    const conf = {
      ...plugin,
      cniVersion: net.cniVersion,
      name: net.name,
      ...(prev ? { prevResult: prev } : {}),
    };
    const r = await execPlugin(rt, command, conf, call);
    if (r.code !== 0) {
      let reason = r.stderr.trim() || `exit code ${r.code}`;
      try {
        const e = JSON.parse(r.stdout) as { code?: number; msg?: string; details?: string };
        reason = `${e.msg ?? reason}${e.details ? `: ${e.details}` : ""} (CNI error ${e.code ?? "?"})`;
      } catch {
        // not a CNI error object
      }
      throw new FairwayError(
        "E_LAB_CNI",
        `CNI ${command} with ${String(plugin.type)} failed: ${reason}`,
        {
          details: { command, plugin: plugin.type, code: r.code },
        },
      );
    }
    if (command === "ADD") prev = JSON.parse(r.stdout);
  }
  return command === "ADD" ? (prev as Record<string, unknown>) : undefined;
}

export async function cniAdd(rt: CniRuntime, call: CniCall): Promise<CniAddResult> {
  const t0 = performance.now();
  const result = (await invoke(rt, "ADD", call))!;
  const ips = (result.ips as { address: string }[] | undefined) ?? [];
  const ip = ips.map((i) => i.address.split("/")[0]!).find((a) => !a.includes(":"));
  if (!ip)
    throw new FairwayError("E_LAB_CNI", `CNI ADD gave no IPv4 address: ${JSON.stringify(result)}`);
  return { result, ip, ms: performance.now() - t0 };
}

export async function cniDel(rt: CniRuntime, call: CniCall): Promise<void> {
  await invoke(rt, "DEL", call);
}

export async function cniCheck(rt: CniRuntime, call: CniCall): Promise<void> {
  await invoke(rt, "CHECK", call);
}
