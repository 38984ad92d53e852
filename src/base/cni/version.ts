// CNI spec versions: which ones Fairway speaks and which commands each allows.

import { CURRENT_CNI_VERSION, SUPPORTED_CNI_VERSIONS } from "../api.ts";
import type { CniCommand } from "./env.ts";
import { CNI_CODES, CniError } from "./errors.ts";

export { CURRENT_CNI_VERSION, SUPPORTED_CNI_VERSIONS };

/** The first spec version that has each command. */
const INTRODUCED: Record<CniCommand, string> = {
  ADD: "0.3.0",
  DEL: "0.3.0",
  VERSION: "0.3.0",
  CHECK: "0.4.0",
  GC: "1.1.0",
  STATUS: "1.1.0",
};

/** Compares "a.b.c" versions numerically; NaN parts compare as 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] || 0) - (pb[i] || 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Throws CNI code 1 when Fairway cannot speak `version`, or `command` does not exist in it. */
export function checkVersion(version: string, command: CniCommand): void {
  if (!(SUPPORTED_CNI_VERSIONS as readonly string[]).includes(version)) {
    throw new CniError(
      CNI_CODES.incompatibleVersion,
      `incompatible CNI versions: config is "${version}", plugin supports ${SUPPORTED_CNI_VERSIONS.join(", ")}`,
    );
  }
  const since = INTRODUCED[command];
  if (compareVersions(version, since) < 0) {
    throw new CniError(
      CNI_CODES.incompatibleVersion,
      `config version "${version}" does not allow ${command} (needs ${since} or later)`,
    );
  }
}

export function versionOutput(): string {
  return `${JSON.stringify({ cniVersion: CURRENT_CNI_VERSION, supportedVersions: SUPPORTED_CNI_VERSIONS })}\n`;
}
