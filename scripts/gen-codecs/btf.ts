// Reads a BPF object's BTF as bpftool prints it (`bpftool btf dump file <obj> -j`,
// the "raw" JSON format of bpftool 7.x) and answers the questions the generator
// asks: what is type N once typedefs and qualifiers are peeled off, how is a map
// definition encoded, which variables sit in a data section.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function bpftool(args: string[]): string {
  try {
    return execFileSync("bpftool", args, {
      encoding: "utf8",
      maxBuffer: 256 << 20,
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`bpftool ${args.join(" ")} failed: ${e.stderr?.trim() || e.message}`);
  }
}

/** One BTF type as bpftool's JSON has it. Fields exist only for the kinds that use them. */
export interface BtfType {
  id: number;
  kind: string;
  name: string;
  size?: number;
  type_id?: number;
  nr_elems?: number;
  encoding?: string;
  nr_bits?: number;
  /** INT only: bit offset of the value inside its storage (always 0 for real integers). */
  bits_offset?: number;
  linkage?: string;
  members?: { name: string; type_id: number; bits_offset: number; bitfield_size?: number }[];
  vars?: { type_id: number; offset: number; size: number }[];
  values?: { name: string; val: number }[];
  params?: { name: string; type_id: number }[];
}

/** Qualifiers that change nothing about the bytes. */
const QUALIFIERS = new Set(["CONST", "VOLATILE", "RESTRICT", "TYPE_TAG"]);

export class Btf {
  private readonly types = new Map<number, BtfType>();

  constructor(
    readonly objectPath: string,
    list: BtfType[],
  ) {
    for (const t of list) this.types.set(t.id, t);
  }

  /**
   * Reads an object's BTF with bpftool. Throws with bpftool's own message when it fails.
   *
   * Why the detour through `bpftool gen object`: clang leaves every DATASEC with
   * size 0 and every variable at offset 0; libbpf fixes them up from the ELF
   * symbol table when it opens the object. `gen object` runs libbpf's static
   * linker, which does the same fix-up and writes it back, so the BTF we read
   * has the real .rodata offsets the loader will use.
   */
  static load(objectPath: string): Btf {
    const dir = mkdtempSync(join(tmpdir(), "fairway-gen-"));
    try {
      const linked = join(dir, "linked.o");
      bpftool(["gen", "object", linked, objectPath]);
      const parsed = JSON.parse(bpftool(["btf", "dump", "file", linked, "-j"])) as {
        types?: BtfType[];
      };
      if (!Array.isArray(parsed.types))
        throw new Error(`${objectPath}: bpftool printed no "types" array`);
      return new Btf(objectPath, parsed.types);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  get(id: number): BtfType {
    const t = this.types.get(id);
    if (!t) throw new Error(`${this.objectPath}: BTF type id ${id} does not exist`);
    return t;
  }

  all(): BtfType[] {
    return [...this.types.values()];
  }

  /** Skips CONST/VOLATILE/RESTRICT/TYPE_TAG (not typedefs: their names carry byte order). */
  skipQualifiers(id: number): BtfType {
    let t = this.get(id);
    while (QUALIFIERS.has(t.kind)) t = this.get(t.type_id!);
    return t;
  }

  /** Skips qualifiers and typedefs: the type that defines the layout. */
  resolve(id: number): BtfType {
    let t = this.skipQualifiers(id);
    while (t.kind === "TYPEDEF") t = this.skipQualifiers(t.type_id!);
    return t;
  }

  /** True for `const volatile T` (in either qualifier order): load-time config. */
  isConstVolatile(id: number): boolean {
    const seen = new Set<string>();
    let t = this.get(id);
    while (t.kind === "CONST" || t.kind === "VOLATILE") {
      seen.add(t.kind);
      t = this.get(t.type_id!);
    }
    return seen.has("CONST") && seen.has("VOLATILE");
  }

  /** Byte size of a type (after qualifiers and typedefs). */
  sizeOf(id: number): number {
    const t = this.resolve(id);
    if (t.kind === "ARRAY") return t.nr_elems! * this.sizeOf(t.type_id!);
    if (t.kind === "PTR") return 8;
    if (t.size === undefined)
      throw new Error(`${this.objectPath}: ${t.kind} "${t.name}" has no size`);
    return t.size;
  }

  /** DATASEC by section name, or undefined. */
  datasec(name: string): BtfType | undefined {
    return this.all().find((t) => t.kind === "DATASEC" && t.name === name);
  }

  /** DATASECs whose name is `prefix` or starts with `prefix.` (".rodata", ".rodata.cfg"). */
  datasecs(prefix: string): BtfType[] {
    return this.all().filter(
      (t) => t.kind === "DATASEC" && (t.name === prefix || t.name.startsWith(`${prefix}.`)),
    );
  }
}

/**
 * A libbpf BTF map definition, decoded. bpf_helpers.h encodes numbers as array
 * sizes and types as pointer targets:
 *   __uint(name, N)   -> int (*name)[N]      : PTR -> ARRAY nr_elems=N
 *   __type(name, T)   -> typeof(T) *name     : PTR -> T
 *   __array(name, T)  -> typeof(T) *name[]   : ARRAY of PTR (map-in-map values, prog arrays)
 */
export interface MapDef {
  name: string;
  numbers: Map<string, number>;
  types: Map<string, number>;
}

export function readMapDef(btf: Btf, varId: number): MapDef {
  const v = btf.get(varId);
  if (v.kind !== "VAR")
    throw new Error(`${btf.objectPath}: .maps entry ${varId} is ${v.kind}, not VAR`);
  const def = btf.resolve(v.type_id!);
  if (def.kind !== "STRUCT")
    throw new Error(`${btf.objectPath}: map "${v.name}" is not a struct definition`);
  const numbers = new Map<string, number>();
  const types = new Map<string, number>();
  for (const m of def.members ?? []) {
    const t = btf.skipQualifiers(m.type_id);
    if (t.kind === "PTR") {
      const target = btf.skipQualifiers(t.type_id!);
      if (
        target.kind === "ARRAY" &&
        btf.resolve(target.type_id!).kind === "INT" &&
        isUintMember(m.name)
      ) {
        numbers.set(m.name, target.nr_elems!);
      } else {
        types.set(m.name, t.type_id!);
      }
    } else if (t.kind === "ARRAY") {
      types.set(m.name, m.type_id); // __array(): inner map or program slots
    }
  }
  return { name: v.name, numbers, types };
}

/** Members bpf_helpers.h declares with __uint(); everything else is a __type(). */
function isUintMember(name: string): boolean {
  return [
    "type",
    "max_entries",
    "key_size",
    "value_size",
    "map_flags",
    "pinning",
    "numa_node",
    "map_extra",
  ].includes(name);
}
