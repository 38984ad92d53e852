// The TypeScript drop reasons must be the C registry, number for number. The
// header is read here with its own small parser (not the generator's), so a
// generator bug cannot hide a mismatch.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  DROP_REASON_MAX,
  DropReason,
  dropReasonInfo,
} from "../../src/datapath/generated/drop_reasons.ts";
import { repoRoot } from "../harness/index.ts";

function headerReasons(): Map<string, number> {
  const text = readFileSync(join(repoRoot, "bpf/lib/drop_reasons.h"), "utf8");
  const body = /enum drop_reason \{([\s\S]*?)\};/.exec(text);
  assert.ok(body, "enum drop_reason not found in bpf/lib/drop_reasons.h");
  const out = new Map<string, number>();
  for (const m of body[1]!.matchAll(/^\s*(DROP_\w+)\s*=\s*(\d+)/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

/** Numeric members of a TS enum (a TS enum object also maps numbers back to names). */
function enumMembers(e: Record<string, string | number>): Map<string, number> {
  return new Map(
    Object.entries(e).filter((kv): kv is [string, number] => typeof kv[1] === "number"),
  );
}

test("every reason in the header is in the TS enum with the same number, and nothing else", () => {
  const header = headerReasons();
  assert.ok(header.size > 5, "suspiciously few reasons parsed from the header");
  assert.deepEqual(enumMembers(DropReason), header);
});

test("reason numbers are unique, explicit and fit the event's __u8", () => {
  const numbers = [...headerReasons().values()];
  assert.equal(new Set(numbers).size, numbers.length, "a drop-reason number is used twice");
  for (const n of numbers)
    assert.ok(n >= 0 && n < DROP_REASON_MAX && n <= 255, `reason ${n} out of range`);
  assert.equal(DropReason.DROP_NONE, 0, "0 must stay 'not a drop'");
});

test("the info table names and describes every reason", () => {
  for (const [name, n] of enumMembers(DropReason)) {
    const info = dropReasonInfo[n];
    assert.ok(info, `no info for ${name}`);
    assert.equal(info.name, name);
    assert.ok(info.description.length > 10, `${name} needs a real one-line description`);
  }
});
