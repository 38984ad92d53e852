// BPF_PROG_TEST_RUN: run a loaded program on a synthetic packet in the kernel,
// so packet programs are tested with hand-built input and no network at all.
import { fromNative, native } from "../errors.ts";
import {
  loadNative,
  type NativeTestRunOptions,
  type NativeTestRunResult,
} from "../native/binding.ts";
import type { BpfProgram } from "./object.ts";

export type TestRunOptions = NativeTestRunOptions;
export type TestRunResult = NativeTestRunResult;

export function testRun(program: BpfProgram, options: TestRunOptions): TestRunResult {
  return native(() => loadNative().progTestRun(program.fd, options), `test run of ${program.name}`);
}

/** On the libuv thread pool: the event loop keeps running while the kernel runs the program. */
export async function testRunAsync(
  program: BpfProgram,
  options: TestRunOptions,
): Promise<TestRunResult> {
  try {
    return await loadNative().progTestRunAsync(program.fd, options);
  } catch (err) {
    throw fromNative(err, `test run of ${program.name}`);
  }
}
