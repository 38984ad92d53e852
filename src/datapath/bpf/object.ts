// A BPF object file opened, configured and loaded through the native binding.
// Parsing happens at open; everything kernel-dependent happens at load. The
// object owns its map and program fds and releases them on close(); pinned
// maps stay pinned (that is what pinning is for).
import { FairwayError } from "../../base/errors.ts";
import { native } from "../errors.ts";
import {
  loadNative,
  type NativeBpfObject,
  type NativeGlobalVar,
  type NativeMapInfo,
  type NativeProgInfo,
} from "../native/binding.ts";

export interface BpfObjectOptions {
  /**
   * Maps declared LIBBPF_PIN_BY_NAME are pinned under this bpffs directory, and
   * reused when already there. Default DEFAULT_PIN_ROOT (never bpffs's root,
   * which is where libbpf would put them).
   */
  pinRoot?: string;
  /** Load-time globals (`const volatile` in .rodata, or .data/.bss), already encoded. */
  globals?: Record<string, Uint8Array>;
  /** Per-map max_entries overrides. */
  maxEntries?: Record<string, number>;
  /** Per-map value size overrides (bytes), for values sized at load. */
  valueSizes?: Record<string, number>;
  /** Per-map exact pin paths (for maps not declared with pinning). */
  pinPaths?: Record<string, string>;
  /** Programs not to load. */
  skipPrograms?: string[];
  /** Verifier log size for the failure report (bytes). */
  logSize?: number;
}

export const DEFAULT_PIN_ROOT = "/sys/fs/bpf/fairway";

export interface BpfProgram {
  readonly name: string;
  readonly section: string;
  readonly type: number;
  readonly fd: number;
}

export interface BpfMapRef extends NativeMapInfo {}

export class BpfObject {
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly handle: NativeBpfObject,
    private readonly mapInfos: Map<string, NativeMapInfo>,
    private readonly progInfos: Map<string, NativeProgInfo>,
  ) {}

  /** Opens, configures and loads. On any failure nothing stays open and nothing new stays pinned. */
  static load(path: string, options: BpfObjectOptions = {}): BpfObject {
    const b = loadNative();
    const handle = native(
      () => b.openObject(path, { pinRoot: options.pinRoot ?? DEFAULT_PIN_ROOT }),
      `opening BPF object ${path}`,
    );
    try {
      configure(handle, options);
      native(() => handle.load({ logSize: options.logSize }), `loading BPF object ${path}`);
    } catch (err) {
      handle.close();
      throw err;
    }
    const maps = new Map(handle.maps().map((m) => [m.name, m]));
    const progs = new Map(handle.programs().map((p) => [p.name, p]));
    return new BpfObject(path, handle, maps, progs);
  }

  /** Lists the data-section variables of an object without loading it. */
  static globalsOf(path: string): NativeGlobalVar[] {
    const handle = native(() => loadNative().openObject(path), `opening BPF object ${path}`);
    try {
      return handle.globals();
    } finally {
      handle.close();
    }
  }

  maps(): NativeMapInfo[] {
    return [...this.mapInfos.values()];
  }

  programs(): BpfProgram[] {
    return [...this.progInfos.values()].filter((p) => p.fd >= 0);
  }

  /** A loaded map by name; throws naming the object and the maps it has. */
  map(name: string): BpfMapRef {
    this.assertOpen();
    const m = this.mapInfos.get(name);
    if (!m) {
      throw new FairwayError(
        "E_BPF_MAP_UNKNOWN",
        `BPF object ${this.path} has no map "${name}" (maps: ${[...this.mapInfos.keys()].join(", ")})`,
      );
    }
    return m;
  }

  /** A loaded program by name; throws naming the object and the programs it has. */
  program(name: string): BpfProgram {
    this.assertOpen();
    const p = this.progInfos.get(name);
    if (!p || p.fd < 0) {
      throw new FairwayError(
        "E_BPF_PROG_UNKNOWN",
        `BPF object ${this.path} has no loaded program "${name}" (programs: ${this.programs()
          .map((x) => x.name)
          .join(", ")})`,
      );
    }
    return p;
  }

  /** Closes all fds of the object. Pins stay. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handle.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new FairwayError("E_BPF_CLOSED", `BPF object ${this.path} is closed`);
  }
}

function configure(handle: NativeBpfObject, options: BpfObjectOptions): void {
  const where = handle.path;
  for (const [name, value] of Object.entries(options.globals ?? {})) {
    native(() => handle.setGlobal(name, value), `setting global "${name}" of ${where}`);
  }
  for (const [name, n] of Object.entries(options.maxEntries ?? {})) {
    native(() => handle.setMaxEntries(name, n), `setting max_entries of map "${name}" of ${where}`);
  }
  for (const [name, n] of Object.entries(options.valueSizes ?? {})) {
    native(() => handle.setValueSize(name, n), `setting value size of map "${name}" of ${where}`);
  }
  for (const [name, path] of Object.entries(options.pinPaths ?? {})) {
    native(() => handle.setPinPath(name, path), `setting pin path of map "${name}" of ${where}`);
  }
  for (const name of options.skipPrograms ?? []) {
    native(() => handle.setAutoload(name, false), `skipping program "${name}" of ${where}`);
  }
}
