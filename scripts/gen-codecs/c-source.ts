// The few facts the generator takes from C source text rather than BTF: enum
// registries with their one-line comments (BTF keeps enum values but drops
// comments, and drops enums no variable uses), `#define` constants, and the
// description and default of each DECLARE_CONFIG knob (config.h).
//
// The shapes accepted are the ones bpf/README.md prescribes; anything that
// looks like an entry but does not parse is an error, never silently skipped.

export interface EnumEntry {
  name: string;
  value: number;
  description: string;
}

export interface CEnum {
  name: string;
  entries: EnumEntry[];
}

export interface ConfigDecl {
  type: string;
  name: string;
  /** The default as C text, e.g. "0", "1 << 20". */
  defaultText: string;
  description: string;
}

/** Removes block and line comments (for scanning code, not for reading comments). */
function stripComments(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, " "))
    .replace(/\/\/.*$/gm, "");
}

/**
 * Every `enum NAME { ... };` in the text. Each entry must read
 * `NAME = <integer>, /* description *\/` on one line.
 */
export function parseEnums(text: string, file: string): CEnum[] {
  const out: CEnum[] = [];
  for (const m of text.matchAll(/^enum\s+(\w+)\s*\{([\s\S]*?)^\};/gm)) {
    const name = m[1]!;
    const entries: EnumEntry[] = [];
    for (const line of m[2]!.split("\n")) {
      const trimmed = line.trim();
      if (trimmed === "" || trimmed.startsWith("/*") || trimmed.startsWith("*")) continue;
      const e = /^(\w+)\s*=\s*(0x[0-9a-fA-F]+|\d+)\s*,\s*\/\*\s*(.*?)\s*\*\/$/.exec(trimmed);
      if (!e) {
        throw new Error(
          `${file}: enum ${name}: cannot parse "${trimmed}" (expected: NAME = number, /* description */)`,
        );
      }
      entries.push({ name: e[1]!, value: Number(e[2]!), description: e[3]! });
    }
    out.push({ name, entries });
  }
  return out;
}

/** `#define NAME <integer>` constants (simple literals only). */
export function parseDefines(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of stripComments(text).matchAll(/^#define\s+(\w+)\s+(0x[0-9a-fA-F]+|\d+)\s*$/gm)) {
    out.set(m[1]!, Number(m[2]!));
  }
  return out;
}

/** Every DECLARE_CONFIG(type, name, default, "description" ...) in the text. */
export function parseConfigDecls(text: string, file: string): ConfigDecl[] {
  const out: ConfigDecl[] = [];
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "");
  for (const m of code.matchAll(/^DECLARE_CONFIG\(([\s\S]*?)\);/gm)) {
    const args = /^\s*([\w ]+?)\s*,\s*(\w+)\s*,\s*([^,]+?)\s*,\s*((?:"(?:[^"\\]|\\.)*"\s*)+)$/.exec(
      m[1]!,
    );
    if (!args) throw new Error(`${file}: cannot parse DECLARE_CONFIG(${m[1]!.trim()})`);
    const description = [...args[4]!.matchAll(/"((?:[^"\\]|\\.)*)"/g)]
      .map((s) => s[1]!.replace(/\\(.)/g, "$1"))
      .join("");
    out.push({ type: args[1]!, name: args[2]!, defaultText: args[3]!, description });
  }
  return out;
}

/** Evaluates a DECLARE_CONFIG default: an integer literal, optionally `A << B`. */
export function evalIntLiteral(text: string, where: string): bigint {
  const lit = (s: string): bigint => {
    const m = /^\(?\s*(0x[0-9a-fA-F]+|\d+)(?:[uU]?[lL]{0,2}|[lL]{1,2}[uU]?)\s*\)?$/.exec(s.trim());
    if (!m) throw new Error(`${where}: default "${text}" is not an integer literal`);
    return BigInt(m[1]!);
  };
  const shift = /^(.+?)<<(.+)$/.exec(text);
  return shift ? lit(shift[1]!) << lit(shift[2]!) : lit(text);
}
