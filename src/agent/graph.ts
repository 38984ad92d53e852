// The module graph: built from the static list in modules.ts, created in
// dependency order (create only validates and allocates), started in that
// order, stopped in reverse. Tracks each module's state for /readyz and
// /v1/status.

import type { ModuleStatus, ReadinessReporter } from "../base/api.ts";
import { ConfigError } from "../base/config.ts";
import { errorMessage, FairwayError, isFairwayError } from "../base/errors.ts";
import type { Logger } from "../base/log.ts";
import { type AnyModuleDecl, type Lifecycle, startOrder } from "../base/module.ts";
import type { AgentConfig } from "./config.ts";

interface Entry {
  decl: AnyModuleDecl;
  instance: Lifecycle;
  log: Logger;
  status: ModuleStatus;
}

export function isReadinessReporter(value: unknown): value is ReadinessReporter {
  return typeof (value as Partial<ReadinessReporter> | undefined)?.readiness === "function";
}

/** The lines of a config error: ConfigError.problems, or details.problems (the convention of FairwayError config errors). */
function problemLines(err: unknown): readonly string[] {
  if (err instanceof ConfigError) return err.problems;
  const listed = isFairwayError(err) ? err.details.problems : undefined;
  if (Array.isArray(listed) && listed.every((p) => typeof p === "string")) return listed;
  return [errorMessage(err)];
}

export class ModuleGraph {
  private constructor(private readonly entries: Entry[]) {}

  /**
   * Orders the modules, gives each its config slice (one ConfigError for all
   * slices) and creates the instances. No I/O happens here.
   */
  static create(decls: readonly AnyModuleDecl[], config: AgentConfig, log: Logger): ModuleGraph {
    const ordered = startOrder(decls);
    const slices = new Map<string, unknown>();
    const problems: string[] = [];
    for (const decl of ordered) {
      try {
        slices.set(decl.id, decl.config(config));
      } catch (err) {
        problems.push(...problemLines(err).map((line) => `module ${decl.id}: ${line}`));
      }
    }
    if (problems.length > 0) throw new ConfigError("module configuration", problems);

    const entries: Entry[] = [];
    const instances: Record<string, unknown> = {};
    for (const decl of ordered) {
      const moduleLog = log.child({ subsys: decl.id });
      const deps = Object.fromEntries(decl.deps.map((id) => [id, instances[id]]));
      let instance: Lifecycle;
      try {
        instance = decl.create({ config: slices.get(decl.id), log: moduleLog, deps });
      } catch (err) {
        throw new FairwayError("E_MODULE_CREATE", `module ${decl.id}: ${errorMessage(err)}`, {
          cause: err,
        });
      }
      instances[decl.id] = instance;
      entries.push({ decl, instance, log: moduleLog, status: { id: decl.id, state: "created" } });
    }
    return new ModuleGraph(entries);
  }

  ids(): string[] {
    return this.entries.map((e) => e.decl.id);
  }

  instance(id: string): unknown {
    return this.entries.find((e) => e.decl.id === id)?.instance;
  }

  /** Starts every module in order. On a failure, stops the ones already started and rethrows. */
  async start(log: Logger): Promise<void> {
    for (const entry of this.entries) {
      entry.status.state = "starting";
      const t0 = performance.now();
      try {
        await entry.instance.start?.();
      } catch (err) {
        entry.status.state = "failed";
        entry.status.error = errorMessage(err);
        log.error({ subsys: entry.decl.id, err }, "module failed to start");
        await this.stop(log);
        throw new FairwayError(
          "E_MODULE_START",
          `module ${entry.decl.id} failed to start: ${errorMessage(err)}`,
          {
            cause: err,
          },
        );
      }
      entry.status.state = "started";
      entry.log.debug({ ms: Math.round(performance.now() - t0) }, "started");
    }
  }

  /**
   * Stops started modules in reverse order. Every stop runs even when one throws;
   * returns the failures. Stop hooks release what the module holds in this process
   * (timers, watches, fds) and must leave pod networking in place.
   */
  async stop(log: Logger): Promise<Error[]> {
    const failures: Error[] = [];
    for (const entry of [...this.entries].reverse()) {
      // A module whose start threw released its own partial work (module contract).
      if (entry.status.state !== "started") continue;
      entry.status.state = "stopping";
      try {
        await entry.instance.stop?.();
        entry.status.state = "stopped";
        entry.log.debug("stopped");
      } catch (err) {
        entry.status.state = "failed";
        entry.status.error = errorMessage(err);
        log.error({ subsys: entry.decl.id, err }, "module failed to stop");
        failures.push(err instanceof Error ? err : new Error(String(err)));
      }
    }
    return failures;
  }

  statuses(): ModuleStatus[] {
    return this.entries.map((e) => {
      const status = { ...e.status };
      if (e.status.state === "started" && isReadinessReporter(e.instance)) {
        const r = e.instance.readiness();
        status.ready = r.ready;
        if (r.reason !== undefined) status.reason = r.reason;
      }
      return status;
    });
  }

  /** Ready when every module started and none reports otherwise; the reason names the first that is not. */
  readiness(): { ready: boolean; reason?: string } {
    for (const s of this.statuses()) {
      if (s.state !== "started") return { ready: false, reason: `module ${s.id} is ${s.state}` };
      if (s.ready === false)
        return {
          ready: false,
          reason: `module ${s.id} is not ready: ${s.reason ?? "no reason given"}`,
        };
    }
    return { ready: true };
  }
}
