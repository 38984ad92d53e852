// Replacing files that other programs read (the conflist, the plugin binary)
// without them ever seeing half a file: write a temporary file in the same
// directory, then rename over the target. The temporary name starts with a dot
// and ends in .tmp so libcni, which loads *.conf, *.conflist and *.json from
// the conf dir, never picks it up.

import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";

/**
 * Writes `data` to `path` atomically with `mode`, unless the file already holds
 * exactly `data` with that mode. Returns true when it wrote.
 */
export function writeFileAtomic(path: string, data: string | Buffer, mode: number): boolean {
  const bytes = typeof data === "string" ? Buffer.from(data) : data;
  if (sameContent(path, bytes, mode)) return false;
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, bytes, { mode });
    chmodSync(tmp, mode); // the umask may have narrowed the mode
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  return true;
}

function sameContent(path: string, bytes: Buffer, mode: number): boolean {
  try {
    return (statSync(path).mode & 0o7777) === mode && readFileSync(path).equals(bytes);
  } catch {
    return false;
  }
}

/** Points `path` at `target` (a symlink), replacing whatever is there atomically. Returns true when it changed. */
export function symlinkAtomic(target: string, path: string): boolean {
  try {
    if (lstatSync(path).isSymbolicLink() && readlinkSync(path) === target) return false;
  } catch {
    // absent: create it
  }
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  rmSync(tmp, { force: true });
  try {
    symlinkSync(target, tmp);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  return true;
}
