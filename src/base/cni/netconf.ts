// The network configuration on stdin, validated by hand (no zod here: the
// plugin must start fast). Every problem is reported in one error:
//   6  not JSON / not an object
//   7  a known field with a wrong type or value, or a required one missing
//   2  a field Fairway does not support (the message names key and value)
//   1  (checked by the caller) a cniVersion Fairway does not speak

import { type CniAttachment, type CniDns, DEFAULT_AGENT_SOCKET } from "../api.ts";
import { CNI_CODES, CniError } from "./errors.ts";
import { isObject } from "./result.ts";

export interface NetConf {
  cniVersion: string;
  name: string;
  type: string;
  agentSocket: string;
  mtu?: number;
  runtimeConfig?: Record<string, unknown>;
  /** raw, in the config's version; normalised by the command that uses it */
  prevResult?: unknown;
  args?: Record<string, unknown>;
  dns?: CniDns;
  /** GC: cni.dev/valid-attachments (or the cni.dev/attachments alias libcni also sends) */
  validAttachments?: CniAttachment[];
}

type Check = (value: unknown, key: string, out: NetConf) => string | undefined;

const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

const FIELDS: Record<string, Check> = {
  cniVersion: (v, _k, out) => {
    // Any string passes here; one Fairway does not speak is code 1 (checkVersion).
    if (typeof v !== "string" || v === "")
      return `must be a version string like "1.1.0", got ${show(v)}`;
    out.cniVersion = v;
  },
  name: (v, _k, out) => {
    if (typeof v !== "string" || !NETWORK_NAME.test(v)) {
      return `must be a network name (letters, digits, then also _ . -), got ${show(v)}`;
    }
    out.name = v;
  },
  type: (v, _k, out) => {
    if (typeof v !== "string" || v === "") return `must be the plugin name, got ${show(v)}`;
    out.type = v;
  },
  agentSocket: (v, _k, out) => {
    if (typeof v !== "string" || !v.startsWith("/"))
      return `must be an absolute path, got ${show(v)}`;
    out.agentSocket = v;
  },
  mtu: (v, _k, out) => {
    if (!Number.isInteger(v) || (v as number) < 68 || (v as number) > 65535) {
      return `must be an integer from 68 to 65535, got ${show(v)}`;
    }
    out.mtu = v as number;
  },
  runtimeConfig: (v, _k, out) => {
    if (!isObject(v)) return `must be an object, got ${show(v)}`;
    out.runtimeConfig = v;
  },
  prevResult: (v, _k, out) => {
    if (!isObject(v)) return `must be an object, got ${show(v)}`;
    out.prevResult = v;
  },
  args: (v, _k, out) => {
    if (!isObject(v)) return `must be an object, got ${show(v)}`;
    out.args = v;
  },
  capabilities: (v) => {
    if (!isObject(v) || !Object.values(v).every((c) => typeof c === "boolean")) {
      return `must be an object of booleans, got ${show(v)}`;
    }
  },
  dns: (v, _k, out) => {
    if (!isObject(v)) return `must be an object, got ${show(v)}`;
    for (const [key, item] of Object.entries(v)) {
      if (key === "domain") {
        if (typeof item !== "string") return "domain must be a string";
      } else if (!["nameservers", "search", "options"].includes(key)) {
        return `${key} is not a DNS setting (nameservers, domain, search, options)`;
      } else if (!isStringList(item)) return `${key} must be a list of strings`;
    }
    out.dns = v as CniDns;
  },
  "cni.dev/valid-attachments": attachments,
  "cni.dev/attachments": attachments,
};

/** Well-known CNI fields that Fairway does not take, with the reason. */
const UNSUPPORTED: Record<string, string> = {
  ipam: "Fairway allocates addresses in its agent; remove the ipam section",
  ipMasq: "masquerading is configured on the agent, not per network",
};

const REQUIRED = ["cniVersion", "name", "type"] as const;

export function parseNetConf(text: string): NetConf {
  if (text.trim() === "")
    throw new CniError(
      CNI_CODES.decodeFailure,
      "failed to decode network configuration: stdin is empty",
    );
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new CniError(
      CNI_CODES.decodeFailure,
      `failed to decode network configuration: ${(err as Error).message}`,
    );
  }
  if (!isObject(raw))
    throw new CniError(
      CNI_CODES.decodeFailure,
      `network configuration must be a JSON object, got ${show(raw)}`,
    );

  const out = { agentSocket: DEFAULT_AGENT_SOCKET } as NetConf;
  const invalid: string[] = REQUIRED.filter((k) => raw[k] === undefined).map(
    (k) => `${k}: required`,
  );
  const unsupported: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    const check = FIELDS[key];
    if (check) {
      const problem = check(value, key, out);
      if (problem) invalid.push(`${key}: ${problem}`);
    } else if (UNSUPPORTED[key]) {
      unsupported.push(`${key}=${show(value)}: ${UNSUPPORTED[key]}`);
    } else if (!key.startsWith("cni.dev/")) {
      // cni.dev/ keys are the runtime's to add; unknown ones are ignored.
      unsupported.push(
        `${key}=${show(value)}: not a field of the ${out.type ?? "fairway-cni"} plugin`,
      );
    }
  }
  if (invalid.length > 0) {
    throw new CniError(
      CNI_CODES.invalidConfig,
      `invalid network configuration: ${invalid.join("; ")}`,
    );
  }
  if (unsupported.length > 0) {
    throw new CniError(
      CNI_CODES.unsupportedField,
      `unsupported field${unsupported.length > 1 ? "s" : ""}: ${unsupported.join("; ")}`,
    );
  }
  return out;
}

function attachments(v: unknown, key: string, out: NetConf): string | undefined {
  if (!Array.isArray(v)) return `must be a list of {containerID, ifname}, got ${show(v)}`;
  const list: CniAttachment[] = [];
  for (const [i, a] of v.entries()) {
    if (!isObject(a) || typeof a.containerID !== "string" || typeof a.ifname !== "string") {
      return `[${i}] must be {"containerID": string, "ifname": string}, got ${show(a)}`;
    }
    list.push({ containerId: a.containerID, ifname: a.ifname });
  }
  // Both keys carry the same list; the spec's name wins.
  if (key === "cni.dev/valid-attachments" || !out.validAttachments) out.validAttachments = list;
}

function isStringList(v: unknown): boolean {
  return Array.isArray(v) && v.every((s) => typeof s === "string");
}

/** A short rendering of a value for messages. */
export function show(v: unknown): string {
  if (v === undefined) return "nothing";
  const text = JSON.stringify(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
