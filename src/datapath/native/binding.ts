// The shape of the native binding (native/, a thin Node-API layer over libbpf,
// network namespaces and netlink sockets). This file is the contract between the
// C++ and the TypeScript side: native/src/*.cc implements exactly these exports.
// Nothing outside src/datapath/ imports it; the rest of Fairway uses the typed
// wrappers in src/datapath/.
//
// Conventions:
//  - fds are plain numbers owned by whoever received them; close them with closeFd.
//  - every failure throws a NativeError (see below); no function returns an error code.
//  - functions that take `netns` accept a path such as /run/netns/foo or
//    /proc/<pid>/ns/net; an empty string or undefined means the caller's namespace.

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Properties the binding sets on every Error it throws. */
export interface NativeErrorProps {
  /** Stable code: EBPF_OPEN, EBPF_LOAD, EBPF_MAP, EBPF_PROG, ETC, ECGROUP, ERINGBUF, ETESTRUN, ENETNS, ENETLINK, ESYSCTL, EINVAL_ARG, EIO_FD */
  code: string;
  /** Positive errno of the failing call, 0 if none. */
  errno: number;
  /** The failing libbpf function or syscall, e.g. "bpf_object__load". */
  syscall: string;
  /** libbpf's own log lines captured during the call (may be ""). */
  libbpf?: string;
  /** On EBPF_LOAD: the kernel verifier log of the program that failed. */
  verifierLog?: string;
  /** On ENETLINK: the kernel's extended-ack message, if it gave one. */
  netlinkMessage?: string;
}
export type NativeError = Error & NativeErrorProps;

export interface NativeMapInfo {
  name: string;
  /** BPF_MAP_TYPE_* number */
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  /** fd after load, -1 before */
  fd: number;
  /** pin path set (by LIBBPF_PIN_BY_NAME + pinRoot, or setPinPath), or "" */
  pinPath: string;
  /** true when load reused an already-pinned map instead of creating it */
  reused: boolean;
}

export interface NativeProgInfo {
  name: string;
  section: string;
  /** BPF_PROG_TYPE_* number */
  type: number;
  /** fd after load, -1 before */
  fd: number;
}

export interface NativeGlobalVar {
  /** datasec: ".rodata", ".data", ".bss" or a custom ".data.*"/".rodata.*" */
  section: string;
  name: string;
  offset: number;
  size: number;
}

export interface NativeObjectOpenOptions {
  /** Directory where maps declared with LIBBPF_PIN_BY_NAME are pinned and reused. */
  pinRoot?: string;
  /** Name given to the object in the kernel (defaults to the file's basename). */
  objectName?: string;
}

export interface NativeLoadOptions {
  /** Verifier log level for the retry that collects the log on failure (1 or 2). Default 1. */
  logLevel?: number;
  /** Verifier log buffer size in bytes. Default 16 MiB. */
  logSize?: number;
}

/** An opened (and later loaded) BPF object file. Wraps struct bpf_object. */
export interface NativeBpfObject {
  readonly path: string;
  maps(): NativeMapInfo[];
  programs(): NativeProgInfo[];
  /** Variables of the object's data sections, from its BTF. */
  globals(): NativeGlobalVar[];
  /** Before load: overwrite the initial bytes of a global (const volatile in .rodata, or .data/.bss). Size must match. */
  setGlobal(name: string, value: Uint8Array): void;
  /** Before load: pin (or reuse if present) this map at exactly `path`. */
  setPinPath(mapName: string, path: string): void;
  /** Before load: change max_entries of a map. */
  setMaxEntries(mapName: string, maxEntries: number): void;
  /** Sets a map's value size before load (its BTF value type is then dropped). */
  setValueSize(mapName: string, valueSize: number): void;
  /** Before load: do not load this program (bpf_program__set_autoload false). */
  setAutoload(progName: string, autoload: boolean): void;
  /** Creates (or reuses pinned) maps and loads all programs. Throws EBPF_LOAD with verifierLog. */
  load(options?: NativeLoadOptions): void;
  /** After load: fd of a map by name (owned by the object; do not close). */
  mapFd(name: string): number;
  /** After load: fd of a program by name (owned by the object; do not close). */
  progFd(name: string): number;
  /** Unpins nothing; closes all fds. Idempotent. */
  close(): void;
}

export interface NativeMapFdInfo {
  id: number;
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
}

export interface NativeBatchResult {
  /** entries processed */
  count: number;
  /** true when the iteration reached the end (lookup batch) */
  done: boolean;
}

export type TcDirection = "ingress" | "egress";

export interface NativeTcTarget {
  /** Interface name, resolved inside `netns`; or give ifindex. */
  ifname?: string;
  ifindex?: number;
  netns?: string;
  direction: TcDirection;
}

export interface NativeTcAttachOptions extends NativeTcTarget {
  progFd: number;
  /** tc filter priority (1..65535); default 1 */
  priority?: number;
  /** tc filter handle; default 1 */
  handle?: number;
  /** replace an existing filter at the same priority/handle (BPF_TC_F_REPLACE) */
  replace?: boolean;
}

export interface NativeTcAttachResult {
  ifindex: number;
  priority: number;
  handle: number;
  progId: number;
  /** true when this call created the clsact qdisc (the caller then owns it) */
  hookCreated: boolean;
}

export interface NativeTcQueryResult {
  progId: number;
  priority: number;
  handle: number;
}

export type CgroupAttachType =
  | "connect4"
  | "connect6"
  | "sendmsg4"
  | "sendmsg6"
  | "recvmsg4"
  | "recvmsg6"
  | "getpeername4"
  | "getpeername6"
  | "getsockname4"
  | "getsockname6"
  | "sock_create"
  | "sock_release"
  | "ingress"
  | "egress";

export interface NativeTestRunOptions {
  data?: Uint8Array;
  /** size of the data_out buffer; default data.length + 256 */
  dataOutSize?: number;
  ctx?: Uint8Array;
  ctxOutSize?: number;
  repeat?: number;
  flags?: number;
  cpu?: number;
}

export interface NativeTestRunResult {
  retval: number;
  /** average ns per run, as reported by the kernel */
  duration: number;
  dataOut: Buffer;
  ctxOut: Buffer | null;
}

/**
 * Ring-buffer consumer: drained on the libuv loop via the ring buffer's epoll fd
 * (no polling thread, no blocking). `onBatch` is called once per drain with all
 * records copied back to back into one Buffer: each record is a u32 length
 * (native endian) followed by the bytes, padded to 8. `count` is the number of
 * records in the batch.
 */
export interface NativeRingBuffer {
  /** Drains synchronously now; returns records delivered (also via onBatch). */
  consume(): number;
  /** Stop watching the fd; pending records stay in the ring. Idempotent. */
  close(): void;
  /** Records delivered so far. */
  readonly delivered: number;
}

export interface NativeRingBufferOptions {
  /** Max records per JS call (default 8192); a bigger drain is split. */
  maxBatch?: number;
}

export interface NativeNetlinkSocket {
  readonly fd: number;
  /**
   * Sends one request (a full nlmsghdr-framed message; the binding fills nlmsg_seq
   * and nlmsg_pid) and reads replies until NLMSG_DONE (dumps) or the ACK.
   * Returns each reply message (nlmsghdr included), DONE/ACK excluded.
   * Throws ENETLINK with errno and netlinkMessage (extack) on NLMSG_ERROR.
   */
  request(message: Uint8Array): Buffer[];
  /** The same on the libuv thread pool. Requests on one socket are serialised. */
  requestAsync(message: Uint8Array): Promise<Buffer[]>;
  close(): void;
}

export interface NativeBinding {
  // --- objects (object.cc)
  openObject(path: string, options?: NativeObjectOpenOptions): NativeBpfObject;

  // --- maps by fd (map.cc)
  mapLookup(fd: number, key: Uint8Array, valueOut: Uint8Array): boolean;
  mapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags: number): void;
  mapDelete(fd: number, key: Uint8Array): boolean;
  /** Writes the key after `key` (or the first key when key is null) into nextOut. false at the end. */
  mapNextKey(fd: number, key: Uint8Array | null, nextOut: Uint8Array): boolean;
  /** bpf_map_lookup_batch. inBatch null to start; token bytes go in/out of outBatch (keySize bytes is enough for hash maps). */
  mapLookupBatch(
    fd: number,
    inBatch: Uint8Array | null,
    outBatch: Uint8Array,
    keys: Uint8Array,
    values: Uint8Array,
    count: number,
  ): NativeBatchResult;
  mapUpdateBatch(
    fd: number,
    keys: Uint8Array,
    values: Uint8Array,
    count: number,
    flags: number,
  ): number;
  mapDeleteBatch(fd: number, keys: Uint8Array, count: number): number;
  mapInfo(fd: number): NativeMapFdInfo;
  /** bpf_obj_get: open a pinned map/prog/link; returns a new fd. */
  objGet(path: string): number;
  objPin(fd: number, path: string): void;
  closeFd(fd: number): void;
  /** libbpf_num_possible_cpus() */
  possibleCpus(): number;

  // --- tc (tc.cc)
  tcAttach(options: NativeTcAttachOptions): NativeTcAttachResult;
  /** Removes the filter at priority/handle; throws ETC with ENOENT when there is none. */
  tcDetach(target: NativeTcTarget & { priority: number; handle: number }): void;
  tcQuery(
    target: NativeTcTarget & { priority: number; handle: number },
  ): NativeTcQueryResult | null;
  /** Removes the clsact qdisc (and with it every tc filter on both directions). */
  tcHookDestroy(target: { ifname?: string; ifindex?: number; netns?: string }): void;

  // --- cgroup (cgroup.cc): bpf_link based
  /** Returns a link fd; when pinPath is given the link is also pinned there. */
  cgroupAttach(
    cgroupPath: string,
    progFd: number,
    type: CgroupAttachType,
    pinPath?: string,
  ): number;
  /** bpf_link_detach on a link fd (works for pinned links opened with objGet). */
  linkDetach(linkFd: number): void;
  /** bpf_link_update: atomically replaces the link's program. */
  linkUpdate(linkFd: number, progFd: number): void;

  // --- ring buffer (ringbuf.cc)
  openRingBuffer(
    mapFd: number,
    onBatch: (batch: Buffer, count: number) => void,
    options?: NativeRingBufferOptions,
  ): NativeRingBuffer;

  // --- BPF_PROG_TEST_RUN (testrun.cc)
  progTestRun(progFd: number, options: NativeTestRunOptions): NativeTestRunResult;
  /** Same on the libuv thread pool, so the loop keeps running (benchmarks drive producers this way). */
  progTestRunAsync(progFd: number, options: NativeTestRunOptions): Promise<NativeTestRunResult>;

  // --- network namespaces (netns.cc)
  /** Creates a persistent netns bind-mounted at path (like `ip netns add`), without touching the caller's thread. */
  netnsCreate(path: string): void;
  /**
   * The same on the libuv thread pool (the kernel's namespace setup takes ~0.5 ms;
   * several run in parallel). Rejects like netnsCreate throws (ENETNS, EEXIST when
   * the file is there).
   */
  netnsCreateAsync(path: string): Promise<void>;
  /** Unmounts and removes a netns created at path. Throws ENETNS/ENOENT if absent. */
  netnsDelete(path: string): void;
  /** Opens a netns path, returns an fd (O_RDONLY|O_CLOEXEC). */
  netnsOpen(path: string): number;
  /** if_nametoindex inside netns; 0 when absent. */
  ifNameToIndex(name: string, netns?: string): number;
  /**
   * Writes a per-namespace sysctl inside netns ("" = the caller's): `path` is
   * "net/ipv4/ip_forward" (relative to /proc/sys) or "/proc/sys/net/...".
   * Anything outside /proc/sys/net is refused (EINVAL_ARG). The file is opened on
   * the calling thread switched into netns (setns and back), which is what makes
   * /proc/sys/net answer for that namespace. Throws ENETNS (cannot enter) or
   * ESYSCTL (open/write failed; errno ENOENT for an unknown key, EINVAL for a bad value).
   */
  sysctlWrite(netns: string, path: string, value: string): void;
  /** Reads a per-namespace sysctl like sysctlWrite writes it; returns the raw text (trailing newline included). */
  sysctlRead(netns: string, path: string): string;

  // --- netlink (netlink.cc)
  /** Opens a netlink socket (NETLINK_ROUTE = 0) inside `netns`, with NETLINK_EXT_ACK and strict checking. */
  netlinkOpen(protocol: number, netns?: string): NativeNetlinkSocket;
}

const here = dirname(fileURLToPath(import.meta.url));

/** Where the compiled addon may be: next to the bundle (dist/), or in native/build. */
function candidates(): string[] {
  const fromEnv = process.env.FAIRWAY_NATIVE;
  const list = [
    join(here, "fairway_native.node"),
    join(here, "../../../native/build/Release/fairway_native.node"),
  ];
  return fromEnv ? [fromEnv, ...list] : list;
}

let cached: NativeBinding | undefined;

/** Loads the addon once. Throws a clear error when it was not built. */
export function loadNative(): NativeBinding {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const found = candidates().find((p) => existsSync(p));
  if (!found) {
    throw new Error(
      `fairway native binding not built (looked in ${candidates().join(", ")}); run: npm run setup`,
    );
  }
  cached = require(found) as NativeBinding;
  return cached;
}
