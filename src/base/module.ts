// The module contract every subsystem follows (STYLE.md rule 3):
//   declare: id, the config slice it reads, the modules it depends on;
//   create:  validate and allocate only — no I/O, no timers, no watches;
//   start:   I/O, watches, timers;
//   stop:    returns only when everything start() began is released.
// The agent builds the graph from a static list and starts it in dependency
// order, stopping in reverse.

import type { Logger } from "./log.ts";

export interface ModuleContext<Config> {
  /** This module's slice of the validated, frozen agent config. */
  config: Config;
  /** A child logger bound to { subsys: id }. */
  log: Logger;
  /** Instances of the declared dependencies, by id. */
  deps: Record<string, unknown>;
}

export interface Lifecycle {
  start?(): Promise<void>;
  stop?(): Promise<void>;
}

export interface ModuleDecl<Config, Instance extends Lifecycle> {
  id: string;
  /** ids of modules whose instances create() receives in ctx.deps */
  deps: readonly string[];
  /** Picks and validates this module's config slice from the whole agent config. */
  config(agentConfig: unknown): Config;
  create(ctx: ModuleContext<Config>): Instance;
}

// biome-ignore lint/suspicious/noExplicitAny: a graph holds modules of any config and instance type
export type AnyModuleDecl = ModuleDecl<any, Lifecycle>;

/** Orders modules so that each comes after its dependencies; throws on unknown ids or cycles. */
export function startOrder(decls: readonly AnyModuleDecl[]): AnyModuleDecl[] {
  const byId = new Map(decls.map((d) => [d.id, d]));
  const done = new Set<string>();
  const visiting = new Set<string>();
  const order: AnyModuleDecl[] = [];
  const visit = (d: AnyModuleDecl, path: string[]): void => {
    if (done.has(d.id)) return;
    if (visiting.has(d.id))
      throw new Error(`module dependency cycle: ${[...path, d.id].join(" -> ")}`);
    visiting.add(d.id);
    for (const dep of d.deps) {
      const target = byId.get(dep);
      if (!target) throw new Error(`module "${d.id}" depends on unknown module "${dep}"`);
      visit(target, [...path, d.id]);
    }
    visiting.delete(d.id);
    done.add(d.id);
    order.push(d);
  };
  for (const d of decls) visit(d, []);
  return order;
}
