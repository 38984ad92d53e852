// The socket LB (bpf/sock.c): eight cgroup sock_addr programs (connect,
// sendmsg, recvmsg, getpeername; IPv4 and IPv6) attached at a
// cgroup root through pinned bpf_links, so they stay attached while the agent
// is down. Attaching again swaps the program behind each pinned link in one
// step (BPF_LINK_UPDATE): after an agent restart or upgrade there is no moment
// without translation.
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { FairwayError } from "../../base/errors.ts";
import { attachCgroup, CgroupLink } from "../bpf/cgroup.ts";
import { encodeGlobals } from "../bpf/globals.ts";
import { BpfObject } from "../bpf/object.ts";
import { bpfObjectPath } from "../bpf/paths.ts";
import { native } from "../errors.ts";
import * as layouts from "../generated/sock.ts";
import type { CgroupAttachType } from "../native/binding.ts";
import { loadNative } from "../native/binding.ts";
import { type LbLoadSettings, lbLoadOptions } from "./objects.ts";

const HOOKS: readonly { program: string; type: CgroupAttachType }[] = [
  { program: "sock4_connect", type: "connect4" },
  { program: "sock4_sendmsg", type: "sendmsg4" },
  { program: "sock4_recvmsg", type: "recvmsg4" },
  { program: "sock4_getpeername", type: "getpeername4" },
  { program: "sock6_connect", type: "connect6" },
  { program: "sock6_sendmsg", type: "sendmsg6" },
  { program: "sock6_recvmsg", type: "recvmsg6" },
  { program: "sock6_getpeername", type: "getpeername6" },
];

export interface SockLbOptions extends LbLoadSettings {
  /** The node's pin directory (shared with lxc.o/host.o). */
  pinRoot: string;
  /** cgroup v2 directory whose processes (and descendants') get the socket LB. */
  cgroupPath: string;
  /** Directory holding sock.o; default bpfObjectPath(). */
  objectDir?: string;
}

function linkPin(pinRoot: string, type: CgroupAttachType): string {
  return join(pinRoot, "links", `sock_${type}`);
}

/** Loads sock.o and attaches (or re-points) its hooks. Returns what is attached. */
export function attachSockLb(options: SockLbOptions): { attached: string[]; updated: string[] } {
  if (!existsSync(options.cgroupPath) || !statSync(options.cgroupPath).isDirectory()) {
    throw new FairwayError(
      "E_LB_CGROUP",
      `cgroup ${options.cgroupPath} does not exist: set cgroupRoot to the node's cgroup v2 mount`,
    );
  }
  if (!existsSync(join(options.cgroupPath, "cgroup.controllers"))) {
    throw new FairwayError(
      "E_LB_CGROUP",
      `${options.cgroupPath} is not a cgroup v2 directory (no cgroup.controllers): the socket LB needs cgroup v2; set cgroupRoot to its mount`,
    );
  }
  const lb = lbLoadOptions(options);
  mkdirSync(join(options.pinRoot, "links"), { recursive: true, mode: 0o700 });
  const path = options.objectDir ? join(options.objectDir, "sock.o") : bpfObjectPath("sock");
  const obj = BpfObject.load(path, {
    pinRoot: options.pinRoot,
    globals: encodeGlobals(layouts.config, { cfg_maglev_size: lb.maglevTableSize }),
    valueSizes: lb.valueSizes,
  });
  const attached: string[] = [];
  const updated: string[] = [];
  const b = loadNative();
  try {
    for (const hook of HOOKS) {
      const prog = obj.program(hook.program);
      const pin = linkPin(options.pinRoot, hook.type);
      if (existsSync(pin)) {
        const fd = native(() => b.objGet(pin), `opening pinned link ${pin}`);
        try {
          native(() => b.linkUpdate(fd, prog.fd), `re-pointing ${hook.type} link ${pin}`);
        } finally {
          b.closeFd(fd);
        }
        updated.push(hook.type);
      } else {
        attachCgroup(prog, options.cgroupPath, hook.type, pin).release();
        attached.push(hook.type);
      }
    }
  } finally {
    // The links hold the programs; the object's fds can go.
    obj.close();
  }
  return { attached, updated };
}

/** Detaches the socket LB's hooks and removes their pins. Idempotent. */
export function detachSockLb(pinRoot: string): string[] {
  const b = loadNative();
  const detached: string[] = [];
  for (const hook of HOOKS) {
    const pin = linkPin(pinRoot, hook.type);
    if (!existsSync(pin)) continue;
    const fd = native(() => b.objGet(pin), `opening pinned link ${pin}`);
    new CgroupLink(fd, "(pinned)", hook.type, pin).detach();
    detached.push(hook.type);
  }
  return detached;
}

/**
 * The cgroup v2 directory to use for `configured`: itself when it is one, else
 * the v2 hierarchy of a hybrid setup mounted below it (<path>/unified, as
 * systemd mounts it), else `configured` unchanged (attach then says why not).
 */
export function resolveCgroup2(configured: string): string {
  if (existsSync(join(configured, "cgroup.controllers"))) return configured;
  const unified = join(configured, "unified");
  if (existsSync(join(unified, "cgroup.controllers"))) return unified;
  return configured;
}

/** The hooks whose pinned links exist. */
export function sockLbAttached(pinRoot: string): CgroupAttachType[] {
  return HOOKS.filter((h) => existsSync(linkPin(pinRoot, h.type))).map((h) => h.type);
}

/** How many hooks a complete socket LB has. */
export const SOCK_LB_HOOKS = HOOKS.length;
