// The CNI_* environment: which variables each command needs (spec 1.1.0,
// "Parameters"), their validation, and CNI_ARGS.

import type { PodRef } from "../api.ts";
import { CNI_CODES, CniError } from "./errors.ts";

export const COMMANDS = ["ADD", "DEL", "CHECK", "VERSION", "GC", "STATUS"] as const;
export type CniCommand = (typeof COMMANDS)[number];

export interface CniEnv {
  command: CniCommand;
  containerId?: string;
  netns?: string;
  ifname?: string;
  /** CNI_ARGS pairs, in order of appearance (later duplicates win) */
  args: Record<string, string>;
  /** CNI_PATH entries (Fairway delegates to no other plugin; kept for completeness) */
  path: string[];
}

const REQUIRED: Record<CniCommand, readonly string[]> = {
  ADD: ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"],
  CHECK: ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"],
  // CNI_NETNS may be gone by DEL time; the agent releases what it can without it.
  DEL: ["CNI_CONTAINERID", "CNI_IFNAME"],
  VERSION: [],
  GC: [],
  STATUS: [],
};

/** Keys of CNI_ARGS Fairway understands; others need IgnoreUnknown (as libcni has it). */
export const KNOWN_ARGS = [
  "IgnoreUnknown",
  "K8S_POD_NAMESPACE",
  "K8S_POD_NAME",
  "K8S_POD_INFRA_CONTAINER_ID",
  "K8S_POD_UID",
];

const CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function parseEnv(env: NodeJS.ProcessEnv): CniEnv {
  const command = env.CNI_COMMAND;
  if (!command)
    throw new CniError(CNI_CODES.invalidEnv, "required env variables [CNI_COMMAND] missing");
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new CniError(
      CNI_CODES.invalidEnv,
      `CNI_COMMAND: unknown command "${command}" (expected one of ${COMMANDS.join(", ")})`,
    );
  }
  const cmd = command as CniCommand;
  const missing = REQUIRED[cmd].filter((name) => !env[name]);
  if (missing.length > 0)
    throw new CniError(
      CNI_CODES.invalidEnv,
      `required env variables [${missing.join(",")}] missing`,
    );

  const out: CniEnv = {
    command: cmd,
    args: {},
    path: (env.CNI_PATH ?? "").split(":").filter(Boolean),
  };
  if (cmd === "VERSION" || cmd === "GC" || cmd === "STATUS") return out;

  const containerId = env.CNI_CONTAINERID!;
  if (!CONTAINER_ID.test(containerId)) {
    throw new CniError(
      CNI_CODES.invalidEnv,
      `CNI_CONTAINERID: "${containerId}" must start with a letter or digit, followed by letters, digits, _ . or -`,
    );
  }
  const ifname = env.CNI_IFNAME!;
  const ifnameProblem = interfaceNameProblem(ifname);
  if (ifnameProblem)
    throw new CniError(CNI_CODES.invalidEnv, `CNI_IFNAME: "${ifname}" ${ifnameProblem}`);
  out.containerId = containerId;
  out.ifname = ifname;
  if (env.CNI_NETNS) out.netns = env.CNI_NETNS;
  out.args = parseCniArgs(env.CNI_ARGS ?? "");
  return out;
}

/** Linux's rules for interface names, as the spec states them. */
export function interfaceNameProblem(name: string): string | undefined {
  if (name === "") return "is empty";
  if (name === "." || name === "..") return 'must not be "." or ".."';
  if (name.length > 15) return "is longer than 15 characters";
  if (/[/:\s]/.test(name)) return "must not contain /, : or whitespace";
  return undefined;
}

/**
 * "K1=V1;K2=V2" -> {K1: "V1", K2: "V2"}. Empty pairs are skipped; a value may
 * contain "=". Keys outside KNOWN_ARGS are an error unless IgnoreUnknown is
 * true ("1", "true", "True"), as libcni treats them.
 */
export function parseCniArgs(text: string): Record<string, string> {
  const args: Record<string, string> = {};
  for (const pair of text.split(";")) {
    if (pair.trim() === "") continue;
    const eq = pair.indexOf("=");
    if (eq <= 0)
      throw new CniError(CNI_CODES.invalidEnv, `CNI_ARGS: "${pair}" is not a KEY=VALUE pair`);
    args[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const ignore = args.IgnoreUnknown;
  if (ignore !== undefined && !["1", "true", "True", "0", "false", "False"].includes(ignore)) {
    throw new CniError(
      CNI_CODES.invalidEnv,
      `CNI_ARGS: IgnoreUnknown must be 1/true or 0/false, got "${ignore}"`,
    );
  }
  if (!(ignore === "1" || ignore === "true" || ignore === "True")) {
    const unknown = Object.keys(args).filter((k) => !KNOWN_ARGS.includes(k));
    if (unknown.length > 0) {
      throw new CniError(
        CNI_CODES.invalidEnv,
        `CNI_ARGS: unknown argument${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")} (pass IgnoreUnknown=1 to allow)`,
      );
    }
  }
  return args;
}

/** The pod named by CNI_ARGS, when both namespace and name are there. */
export function podFromArgs(args: Record<string, string>): PodRef | undefined {
  const namespace = args.K8S_POD_NAMESPACE;
  const name = args.K8S_POD_NAME;
  if (!namespace || !name) return undefined;
  const pod: PodRef = { namespace, name };
  if (args.K8S_POD_INFRA_CONTAINER_ID) pod.infraContainerId = args.K8S_POD_INFRA_CONTAINER_ID;
  if (args.K8S_POD_UID) pod.uid = args.K8S_POD_UID;
  return pod;
}
