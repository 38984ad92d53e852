// net.* sysctls of a namespace. /proc/sys/net answers for the namespace of the
// thread that opens the file, so the binding opens it inside the namespace
// (setns on the calling thread and back): microseconds, no `ip netns exec`, no
// /proc remount. Synchronous on purpose.

import { loadNative } from "../native/binding.ts";
import { NetErrorCode, netError, translateError } from "./errors.ts";
import type { NetOptions } from "./link.ts";

/**
 * "net.ipv4.ip_forward" or "net/ipv4/ip_forward" -> "net/ipv4/ip_forward". Use the
 * slash form when a component has a dot (an interface like "eth0.100").
 */
export function sysctlKeyPath(key: string): string {
  const path = key.includes("/") ? key.replace(/^\/proc\/sys\//, "") : key.replaceAll(".", "/");
  if (!path.startsWith("net/") || path.split("/").includes("..")) {
    throw netError(NetErrorCode.INVALID, `sysctl "${key}" is not a per-namespace net.* key`, {
      details: { key },
    });
  }
  return path;
}

export function writeSysctl(key: string, value: string | number, opts: NetOptions = {}): void {
  const path = sysctlKeyPath(key);
  try {
    loadNative().sysctlWrite(opts.netns ?? "", path, String(value));
  } catch (err) {
    throw translateError(err, { what: `set sysctl ${path} to "${value}"`, netns: opts.netns });
  }
}

/** The value, without the trailing newline. */
export function readSysctl(key: string, opts: NetOptions = {}): string {
  const path = sysctlKeyPath(key);
  try {
    return loadNative()
      .sysctlRead(opts.netns ?? "", path)
      .replace(/\n$/, "");
  } catch (err) {
    throw translateError(err, { what: `read sysctl ${path}`, netns: opts.netns });
  }
}
