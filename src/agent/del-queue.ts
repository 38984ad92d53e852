// DELs that could not be served when they arrived: written by the plugin when
// the agent is unreachable, and by the agent itself while it is not ready
// (starting or stopping). Replayed once the agent is ready. DEL is idempotent,
// so replaying an entry that was also served directly is harmless.

import { readdirSync, readFileSync, renameSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { type CniRequest, type DelQueueEntry, writeDelQueueEntry } from "../base/api.ts";
import { errorMessage } from "../base/errors.ts";
import type { Logger } from "../base/log.ts";
import { cniRequestSchema } from "./api-schema.ts";

export interface DrainResult {
  replayed: number;
  failed: number;
  invalid: number;
}

export class DelQueue {
  constructor(readonly dir: string) {}

  enqueue(request: CniRequest): string {
    const entry: DelQueueEntry = { queuedAt: new Date().toISOString(), by: "agent", request };
    return writeDelQueueEntry(this.dir, entry);
  }

  /** Names of queued entries (dot-files are writes in progress). */
  list(): string[] {
    try {
      return readdirSync(this.dir).filter((n) => n.endsWith(".json") && !n.startsWith("."));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
  }

  /**
   * Replays every entry through `del`. An entry is removed when del succeeds,
   * kept for the next drain when it fails, and set aside as <name>.invalid when
   * it cannot be parsed.
   */
  async drain(del: (req: CniRequest) => Promise<void>, log: Logger): Promise<DrainResult> {
    const result: DrainResult = { replayed: 0, failed: 0, invalid: 0 };
    for (const name of this.list()) {
      const path = join(this.dir, name);
      let request: CniRequest;
      try {
        const entry = JSON.parse(readFileSync(path, "utf8")) as Partial<DelQueueEntry>;
        request = cniRequestSchema.parse(entry.request);
      } catch (err) {
        log.error({ entry: name, err: errorMessage(err) }, "queued DEL is unreadable; set aside");
        renameSync(path, `${path}.invalid`);
        result.invalid++;
        continue;
      }
      try {
        await del(request);
        unlinkSync(path);
        result.replayed++;
        log.info(
          { containerId: request.containerId, ifname: request.ifname },
          "replayed queued DEL",
        );
      } catch (err) {
        result.failed++;
        log.warn(
          { containerId: request.containerId, err: errorMessage(err) },
          "queued DEL failed; kept for retry",
        );
      }
    }
    return result;
  }
}
