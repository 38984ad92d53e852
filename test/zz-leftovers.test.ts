// Runs last in every suite run: fails when any test left a kernel object behind.
import assert from "node:assert/strict";
import { test } from "node:test";
import { findLeftovers, removeLeftovers } from "./harness/leftovers.ts";

test("the suite left no namespace, link, pin or cgroup behind", () => {
  const found = findLeftovers();
  removeLeftovers(found);
  assert.deepEqual(found, [], `leftovers (now removed): ${found.join(", ")}`);
});
