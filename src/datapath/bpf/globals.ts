// Encodes load-time config (`const volatile` globals) with the generated layouts,
// so callers pass typed values and the object receives exactly-sized bytes.
import { FairwayError } from "../../base/errors.ts";
import type { GlobalLayout } from "../codec.ts";

type ValueOf<L> = L extends GlobalLayout<infer T> ? T : never;

/** Typed values for some of an object's globals; missing ones keep their compiled default. */
export type GlobalValues<C extends Record<string, GlobalLayout>> = {
  [K in keyof C]?: ValueOf<C[K]>;
};

export function encodeGlobals<C extends Record<string, GlobalLayout>>(
  layouts: C,
  values: GlobalValues<C>,
): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) continue;
    const layout = layouts[name];
    if (!layout) {
      throw new FairwayError(
        "E_BPF_GLOBAL_UNKNOWN",
        `unknown load-time config "${name}" (known: ${Object.keys(layouts).join(", ")})`,
      );
    }
    out[name] = layout.codec.encode(value);
  }
  return out;
}
