// The generator's BTF reading, on hand-written BTF in bpftool's JSON shape: no
// bpftool and no objects needed. Covers how libbpf map definitions are encoded,
// byte-order typedefs, arrays, unions, config knobs and what gets refused.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Btf, type BtfType } from "../../scripts/gen-codecs/btf.ts";
import { evalIntLiteral, parseConfigDecls, parseEnums } from "../../scripts/gen-codecs/c-source.ts";
import { ModelBuilder } from "../../scripts/gen-codecs/model.ts";
import { renderObject } from "../../scripts/gen-codecs/render.ts";

const int = (id: number, name: string, size: number, signed = false): BtfType => ({
  id,
  kind: "INT",
  name,
  size,
  bits_offset: 0,
  nr_bits: size * 8,
  encoding: signed ? "SIGNED" : "(none)",
});
const typedef = (id: number, name: string, type_id: number): BtfType => ({
  id,
  kind: "TYPEDEF",
  name,
  type_id,
});
const ptr = (id: number, type_id: number): BtfType => ({
  id,
  kind: "PTR",
  name: "(anon)",
  type_id,
});
const arr = (id: number, type_id: number, nr_elems: number): BtfType => ({
  id,
  kind: "ARRAY",
  name: "(anon)",
  type_id,
  nr_elems,
});
const member = (name: string, type_id: number, byteOffset: number) => ({
  name,
  type_id,
  bits_offset: byteOffset * 8,
});

/** struct fw_key { __be16 port; __u8 proto; __u8 mac[6]; __be16 ports[2]; union ip_addr addr; } */
function baseTypes(): BtfType[] {
  return [
    int(1, "unsigned int", 4),
    typedef(2, "__u32", 1),
    int(3, "unsigned short", 2),
    typedef(4, "__u16", 3),
    typedef(5, "__be16", 4),
    int(6, "unsigned char", 1),
    typedef(7, "__u8", 6),
    arr(8, 7, 6),
    { id: 9, kind: "UNION", name: "ip_addr", size: 16, members: [member("v4", 2, 0)] },
    arr(10, 5, 2),
    {
      id: 11,
      kind: "STRUCT",
      name: "fw_key",
      size: 32,
      members: [
        member("port", 5, 0),
        member("proto", 7, 2),
        member("mac", 8, 3),
        member("ports", 10, 10),
        member("addr", 9, 16),
      ],
    },
    int(13, "unsigned long long", 8),
    { id: 12, kind: "STRUCT", name: "fw_val", size: 8, members: [member("count", 13, 0)] },
    int(14, "int", 4, true),
    arr(15, 14, 1), // __uint(type, BPF_MAP_TYPE_HASH) and __uint(pinning, LIBBPF_PIN_BY_NAME)
    ptr(16, 15),
    arr(17, 14, 128), // __uint(max_entries, 128)
    ptr(18, 17),
    ptr(19, 11), // __type(key, struct fw_key)
    ptr(20, 12), // __type(value, struct fw_val)
    {
      id: 22,
      kind: "STRUCT",
      name: "(anon)",
      size: 40,
      members: [
        member("type", 16, 0),
        member("key", 19, 8),
        member("value", 20, 16),
        member("max_entries", 18, 24),
        member("pinning", 16, 32),
      ],
    },
    { id: 23, kind: "VAR", name: "fw_map", type_id: 22, linkage: "global" },
    {
      id: 24,
      kind: "DATASEC",
      name: ".maps",
      size: 40,
      vars: [{ type_id: 23, offset: 0, size: 40 }],
    },
    { id: 25, kind: "VOLATILE", name: "(anon)", type_id: 7 },
    { id: 26, kind: "CONST", name: "(anon)", type_id: 25 },
    { id: 27, kind: "VAR", name: "cfg_mode", type_id: 26, linkage: "global" },
    { id: 28, kind: "CONST", name: "(anon)", type_id: 13 }, // plain const: not config
    { id: 29, kind: "VAR", name: "table", type_id: 28, linkage: "global" },
    {
      id: 30,
      kind: "DATASEC",
      name: ".rodata",
      size: 16,
      vars: [
        { type_id: 29, offset: 8, size: 8 },
        { type_id: 27, offset: 0, size: 1 },
      ],
    },
  ];
}

const CONFIG_SRC = `DECLARE_CONFIG(__u8, cfg_mode, 2,\n\t       "Mode: 0 off, " "2 on.");\n`;

function build(types: BtfType[], configSrc = CONFIG_SRC) {
  const btf = new Btf("test.o", types);
  return new ModelBuilder(btf, "test.o").build(parseConfigDecls(configSrc, "test.c"), undefined);
}

describe("ModelBuilder", () => {
  test("decodes a libbpf map definition (numbers as array sizes, types as pointer targets)", () => {
    const m = build(baseTypes()).maps[0]!;
    assert.equal(m.name, "fw_map");
    assert.equal(m.type, "hash");
    assert.equal(m.typeId, 1);
    assert.equal(m.maxEntries, 128);
    assert.equal(m.pinning, "by-name");
    assert.equal(m.key?.expr, "FwKey");
    assert.equal(m.value?.expr, "FwVal");
    assert.deepEqual([m.keySize, m.valueSize], [32, 8]);
  });

  test("maps fields to codecs: byte order by typedef name, byte arrays, unions as bytes", () => {
    const key = build(baseTypes()).structs.find((s) => s.cName === "fw_key")!;
    const codecs = Object.fromEntries(key.fields.map((f) => [f.name, [f.codec.expr, f.offset]]));
    assert.deepEqual(codecs, {
      port: ["Be16", 0],
      proto: ["U8", 2],
      mac: ["Bytes(6)", 3],
      ports: ["array(Be16, 2)", 10],
      addr: ["Bytes(16)", 16],
    });
    assert.equal(key.fields.find((f) => f.name === "ports")!.codec.tsType, "number[]");
  });

  test("only const volatile globals are config; description and default come from DECLARE_CONFIG", () => {
    const g = build(baseTypes()).globals;
    assert.equal(g.length, 1);
    assert.deepEqual(
      { name: g[0]!.name, offset: g[0]!.offset, codec: g[0]!.codec.expr, def: g[0]!.defaultValue },
      { name: "cfg_mode", offset: 0, codec: "U8", def: 2n },
    );
    assert.equal(g[0]!.description, "Mode: 0 off, 2 on.");
  });

  test("a const volatile global without DECLARE_CONFIG is an error", () => {
    assert.throws(() => build(baseTypes(), ""), /cfg_mode.*DECLARE_CONFIG/);
  });

  test("bitfields are refused with the struct and member named", () => {
    const types = baseTypes();
    const val = types.find((t) => t.id === 12)!;
    val.members = [{ name: "flags", type_id: 2, bits_offset: 0, bitfield_size: 3 }];
    assert.throws(() => build(types), /struct fw_val\.flags: bitfields are not supported/);
  });

  test("pointers cannot be map values", () => {
    const types = baseTypes();
    types.find((t) => t.id === 12)!.members = [member("p", 19, 0)];
    assert.throws(() => build(types), /fw_val\.p: PTR/);
  });

  test("renders a file with the DO NOT EDIT marker and the tables", () => {
    const text = renderObject("test", build(baseTypes()));
    assert.match(
      text,
      /^\/\/ Code generated by scripts\/gen-codecs\.ts from bpf\/test\.c\. DO NOT EDIT\.\n/,
    );
    assert.match(text, /export const FwKey = struct<FwKey>\("fw_key", 32, \{/);
    assert.match(text, /fw_map: \{\n\s+type: "hash",/);
    assert.match(text, /cfg_mode: \{[\s\S]*default: 2,/);
  });
});

describe("C source parsing", () => {
  test("enums need NAME = number, /* description */ on every line", () => {
    const ok = parseEnums("enum e {\n\tA = 1, /* first */\n\tB = 0x10, /* second */\n};\n", "x.h");
    assert.deepEqual(ok, [
      {
        name: "e",
        entries: [
          { name: "A", value: 1, description: "first" },
          { name: "B", value: 16, description: "second" },
        ],
      },
    ]);
    assert.throws(
      () => parseEnums("enum e {\n\tA,\n};\n", "x.h"),
      /x\.h: enum e: cannot parse "A,"/,
    );
  });

  test("config defaults are integer literals", () => {
    assert.equal(evalIntLiteral("4 << 20", "x"), 4n << 20n);
    assert.equal(evalIntLiteral("0x10ULL", "x"), 16n);
    assert.throws(() => evalIntLiteral("FOO", "x"), /not an integer literal/);
  });
});
