// Turns one object's BTF into what the generated file declares: struct codecs
// (in dependency order), the map table, the load-time config and the events.
// Pure: the same BTF and sources give the same model, in the same order.
import { type Btf, type BtfType, readMapDef } from "./btf.ts";
import { type CEnum, type ConfigDecl, evalIntLiteral } from "./c-source.ts";

/** A codec as TypeScript source: the expression, its value type, the runtime names it uses. */
export interface CodecRef {
  expr: string;
  tsType: string;
  size: number;
}

export interface StructModel {
  cName: string;
  tsName: string;
  size: number;
  fields: { name: string; offset: number; codec: CodecRef; cType: string }[];
}

export interface MapModel {
  name: string;
  type: string;
  typeId: number;
  key: CodecRef | null;
  value: CodecRef | null;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  pinning: "none" | "by-name";
}

export interface GlobalModel {
  name: string;
  section: string;
  offset: number;
  codec: CodecRef;
  defaultValue: bigint;
  description: string;
}

export interface EventModel {
  cName: string;
  typeName: string;
  typeValue: number;
  codec: CodecRef;
}

export interface ObjectModel {
  structs: StructModel[];
  maps: MapModel[];
  globals: GlobalModel[];
  events: EventModel[];
  /** Runtime names from codec.ts the file needs. */
  imports: Set<string>;
}

/** BPF_MAP_TYPE_* numbers (include/uapi/linux/bpf.h, enum bpf_map_type; append-only in the kernel). */
const MAP_TYPES = [
  "unspec",
  "hash",
  "array",
  "prog_array",
  "perf_event_array",
  "percpu_hash",
  "percpu_array",
  "stack_trace",
  "cgroup_array",
  "lru_hash",
  "lru_percpu_hash",
  "lpm_trie",
  "array_of_maps",
  "hash_of_maps",
  "devmap",
  "sockmap",
  "cpumap",
  "xskmap",
  "sockhash",
  "cgroup_storage",
  "reuseport_sockarray",
  "percpu_cgroup_storage",
  "queue",
  "stack",
  "sk_storage",
  "devmap_hash",
  "struct_ops",
  "ringbuf",
  "inode_storage",
  "task_storage",
  "bloom_filter",
  "user_ringbuf",
  "cgrp_storage",
  "arena",
];

/** Typedefs whose name, not their underlying integer, decides the codec. */
const BYTE_ORDER_TYPEDEFS: Record<string, CodecRef> = {
  __be16: { expr: "Be16", tsType: "number", size: 2 },
  __be32: { expr: "Be32", tsType: "number", size: 4 },
  __be64: { expr: "Be64", tsType: "bigint", size: 8 },
};

/** Prefix of the functions BTF_EXPORT_STRUCT (compiler.h) emits. */
const EXPORT_PREFIX = "__btf_export_";

export function pascalCase(cName: string): string {
  return cName
    .split("_")
    .filter((p) => p !== "")
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join("");
}

export class ModelBuilder {
  private readonly structs = new Map<number, StructModel>();
  private readonly structOrder: StructModel[] = [];
  private readonly imports = new Set<string>();

  constructor(
    private readonly btf: Btf,
    private readonly source: string,
  ) {}

  build(configDecls: ConfigDecl[], eventTypes: CEnum | undefined): ObjectModel {
    const maps = this.maps();
    for (const t of this.exportedStructs()) this.codecFor(t.id, `struct ${t.name}`);
    const events = this.events(eventTypes);
    const globals = this.globals(configDecls);
    return { structs: this.structOrder, maps, globals, events, imports: this.imports };
  }

  private use(name: string): string {
    this.imports.add(name);
    return name;
  }

  private fail(where: string, problem: string): never {
    throw new Error(`${this.source}: ${where}: ${problem}`);
  }

  /** The codec of BTF type `id`; `where` names the field for error messages. */
  codecFor(id: number, where: string): CodecRef {
    const t = this.btf.skipQualifiers(id);
    if (t.kind === "TYPEDEF") {
      const byteOrder = BYTE_ORDER_TYPEDEFS[t.name];
      if (byteOrder) return { ...byteOrder, expr: this.use(byteOrder.expr) };
      return this.codecFor(t.type_id!, where);
    }
    switch (t.kind) {
      case "INT":
        return this.intCodec(t, where);
      case "ENUM":
      case "ENUM64": {
        const signed = (t.values ?? []).some((v) => v.val < 0);
        return this.sizedInt(t.size!, signed, where);
      }
      case "STRUCT":
        return this.structCodec(t, where);
      case "UNION":
        // A union has no single field layout to expose: its bytes, raw.
        return this.bytesCodec(t.size!);
      case "ARRAY":
        return this.arrayCodec(t, where);
      default:
        return this.fail(
          where,
          `${t.kind} "${t.name}" cannot cross to user space as a fixed-size value`,
        );
    }
  }

  private intCodec(t: BtfType, where: string): CodecRef {
    if (t.nr_bits !== (t.size ?? 0) * 8 || t.bits_offset) {
      return this.fail(where, `integer "${t.name}" with ${t.nr_bits} bits is not supported`);
    }
    if (t.size === 16) return this.bytesCodec(16); // __int128: no JS type, keep the bytes
    return this.sizedInt(t.size!, t.encoding === "SIGNED", where);
  }

  private sizedInt(size: number, signed: boolean, where: string): CodecRef {
    const names: Record<number, string> = { 1: "8", 2: "16", 4: "32", 8: "64" };
    const bits = names[size];
    if (!bits) return this.fail(where, `integer of ${size} bytes is not supported`);
    const expr = this.use(`${signed ? "I" : "U"}${bits}`);
    return { expr, tsType: size === 8 ? "bigint" : "number", size };
  }

  private bytesCodec(size: number): CodecRef {
    return { expr: `${this.use("Bytes")}(${size})`, tsType: "Uint8Array", size };
  }

  private arrayCodec(t: BtfType, where: string): CodecRef {
    const n = t.nr_elems!;
    if (n === 0) return this.fail(where, "flexible array members have no fixed size");
    const elem = this.btf.resolve(t.type_id!);
    // char/u8/s8 arrays (names, MAC addresses, IPv6 addresses) read best as bytes.
    if ((elem.kind === "INT" && elem.size === 1) || this.isByteOrderTypedef(t.type_id!, 1)) {
      return this.bytesCodec(n);
    }
    const inner = this.codecFor(t.type_id!, `${where}[]`);
    const tsType = /^[\w.]+$/.test(inner.tsType) ? `${inner.tsType}[]` : `(${inner.tsType})[]`;
    return { expr: `${this.use("array")}(${inner.expr}, ${n})`, tsType, size: inner.size * n };
  }

  private isByteOrderTypedef(id: number, size: number): boolean {
    const t = this.btf.skipQualifiers(id);
    return (
      t.kind === "TYPEDEF" &&
      t.name in BYTE_ORDER_TYPEDEFS &&
      BYTE_ORDER_TYPEDEFS[t.name]!.size === size
    );
  }

  private structCodec(t: BtfType, where: string): CodecRef {
    const existing = this.structs.get(t.id);
    if (existing) return { expr: existing.tsName, tsType: existing.tsName, size: existing.size };
    const cName = t.name && t.name !== "(anon)" ? t.name : this.anonName(where);
    const model: StructModel = { cName, tsName: pascalCase(cName), size: t.size!, fields: [] };
    if (this.structOrder.some((s) => s.tsName === model.tsName)) {
      return this.fail(where, `two structs map to the TypeScript name ${model.tsName}`);
    }
    this.structs.set(t.id, model);
    for (const m of t.members ?? []) {
      const fieldWhere = `struct ${cName}.${m.name}`;
      if (!m.name || m.name === "(anon)") {
        return this.fail(fieldWhere, "anonymous members are not supported: give the member a name");
      }
      if (m.bitfield_size || m.bits_offset % 8 !== 0) {
        return this.fail(fieldWhere, "bitfields are not supported: use a whole integer and masks");
      }
      const codec = this.codecFor(m.type_id, fieldWhere);
      model.fields.push({
        name: m.name,
        offset: m.bits_offset / 8,
        codec,
        cType: this.cTypeName(m.type_id),
      });
    }
    // Dependencies were pushed while walking the members: this one comes after them.
    this.structOrder.push(model);
    this.use("struct");
    return { expr: model.tsName, tsType: model.tsName, size: model.size };
  }

  /** Synthetic name for an anonymous struct: its first use, e.g. "diag_key_addr". */
  private anonName(where: string): string {
    return where
      .replace(/^struct /, "")
      .replace(/[^\w]+/g, "_")
      .replace(/_+$/, "");
  }

  /** C spelling of a member's type for the generated doc comment. */
  cTypeName(id: number): string {
    const t = this.btf.get(id);
    switch (t.kind) {
      case "CONST":
      case "VOLATILE":
      case "RESTRICT":
      case "TYPE_TAG":
        return this.cTypeName(t.type_id!);
      case "ARRAY":
        return `${this.cTypeName(t.type_id!)}[${t.nr_elems}]`;
      case "STRUCT":
      case "UNION":
      case "ENUM":
        return `${t.kind.toLowerCase()} ${t.name && t.name !== "(anon)" ? t.name : "(anonymous)"}`;
      default:
        return t.name;
    }
  }

  private maps(): MapModel[] {
    const sec = this.btf.datasec(".maps");
    // Offset order is the order of the definitions in the ELF section.
    const vars = [...(sec?.vars ?? [])].sort((a, b) => a.offset - b.offset);
    return vars.map((v) => {
      const def = readMapDef(this.btf, v.type_id);
      const where = `map ${def.name}`;
      const typeId = def.numbers.get("type");
      if (typeId === undefined) return this.fail(where, "has no __uint(type, ...)");
      const keyType = def.types.get("key");
      const valueType = def.types.get("value");
      const key = keyType === undefined ? null : this.codecFor(keyType, `${where} key`);
      const value = valueType === undefined ? null : this.codecFor(valueType, `${where} value`);
      return {
        name: def.name,
        type: MAP_TYPES[typeId] ?? `type_${typeId}`,
        typeId,
        key,
        value,
        keySize: key?.size ?? def.numbers.get("key_size") ?? 0,
        valueSize: value?.size ?? def.numbers.get("value_size") ?? 0,
        maxEntries: def.numbers.get("max_entries") ?? 0,
        flags: def.numbers.get("map_flags") ?? 0,
        pinning: (def.numbers.get("pinning") ?? 0) === 1 ? "by-name" : "none",
      };
    });
  }

  /** Structs named `*_event` plus everything kept with BTF_EXPORT_STRUCT, sorted by name. */
  private exportedStructs(): BtfType[] {
    const byName = new Map<string, BtfType>();
    for (const t of this.btf.all()) {
      if (t.kind === "STRUCT" && t.name.endsWith("_event")) byName.set(t.name, t);
      if (t.kind === "FUNC" && t.name.startsWith(EXPORT_PREFIX)) {
        const proto = this.btf.get(t.type_id!);
        const param = proto.params?.[0];
        const ptr = param ? this.btf.skipQualifiers(param.type_id) : undefined;
        const target = ptr?.kind === "PTR" ? this.btf.resolve(ptr.type_id!) : undefined;
        if (target?.kind === "STRUCT") byName.set(target.name, target);
      }
    }
    return [...byName.keys()].sort().map((n) => byName.get(n)!);
  }

  private events(eventTypes: CEnum | undefined): EventModel[] {
    const out: EventModel[] = [];
    for (const s of this.structOrder) {
      if (!s.cName.endsWith("_event")) continue;
      const entry = eventTypes?.entries.find((e) => e.description.startsWith(`struct ${s.cName}`));
      if (!entry) {
        return this.fail(
          `struct ${s.cName}`,
          "has no enum event_type entry in bpf/lib/events.h whose comment starts with `struct " +
            `${s.cName}\``,
        );
      }
      out.push({
        cName: s.cName,
        typeName: entry.name,
        typeValue: entry.value,
        codec: { expr: s.tsName, tsType: s.tsName, size: s.size },
      });
    }
    return out.sort((a, b) => a.typeValue - b.typeValue);
  }

  private globals(decls: ConfigDecl[]): GlobalModel[] {
    const out: GlobalModel[] = [];
    for (const sec of this.btf.datasecs(".rodata")) {
      for (const v of [...(sec.vars ?? [])].sort((a, b) => a.offset - b.offset)) {
        const variable = this.btf.get(v.type_id);
        if (variable.kind !== "VAR" || !this.btf.isConstVolatile(variable.type_id!)) continue;
        const where = `config ${variable.name}`;
        const decl = decls.find((d) => d.name === variable.name);
        if (!decl)
          return this.fail(where, "const volatile global not declared with DECLARE_CONFIG");
        const codec = this.codecFor(variable.type_id!, where);
        if (codec.tsType !== "number" && codec.tsType !== "bigint") {
          return this.fail(where, `config knobs must be integers, not ${codec.tsType}`);
        }
        out.push({
          name: variable.name,
          section: sec.name,
          offset: v.offset,
          codec,
          defaultValue: evalIntLiteral(decl.defaultText, `${this.source}: ${where}`),
          description: decl.description,
        });
      }
    }
    return out;
  }
}
