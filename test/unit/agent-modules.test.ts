import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { loadAgentConfig } from "../../src/agent/config.ts";
import { ModuleGraph } from "../../src/agent/graph.ts";
import { agentModules, SUBSYSTEMS } from "../../src/agent/modules.ts";
import { AGENT_VERSION } from "../../src/agent/version.ts";
import { ConfigError, parseFlags } from "../../src/base/config.ts";
import { silentLogger } from "../../src/base/log.ts";
import type { AnyModuleDecl, Lifecycle } from "../../src/base/module.ts";
import { repoRoot } from "../harness/index.ts";

const config = loadAgentConfig({ flags: [], env: { FAIRWAY_NODE_NAME: "n1" } });

/** A module that records its lifecycle into `events`. */
function recorder(
  id: string,
  deps: string[],
  events: string[],
  options: { failStart?: boolean; ready?: boolean } = {},
): AnyModuleDecl {
  return {
    id,
    deps,
    config: (c) => ({ node: (c as typeof config).nodeName }),
    create: ({ config: slice, deps: given }) => {
      events.push(`create ${id} ${JSON.stringify(slice)} deps=${Object.keys(given).join(",")}`);
      const instance: Lifecycle & { readiness?(): { ready: boolean; reason?: string } } = {
        async start() {
          if (options.failStart) throw new Error(`${id} cannot start`);
          events.push(`start ${id}`);
        },
        async stop() {
          events.push(`stop ${id}`);
        },
      };
      if (options.ready !== undefined)
        instance.readiness = () => ({ ready: options.ready!, reason: "warming up" });
      return instance;
    },
  };
}

test("the agent reports package.json's version", () => {
  const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
    version: string;
  };
  assert.equal(AGENT_VERSION, pkg.version);
});

describe("agent module graph", () => {
  test("the product graph builds without starting anything", () => {
    const { flags } = parseFlags(
      [
        "--nodeName=n1",
        "--ipam.podCIDRs=10.244.0.0/24",
        "--cluster.source=directory",
        "--cluster.directory=/nonexistent",
      ],
      [],
    );
    const product = loadAgentConfig({ flags, env: {} });
    const graph = ModuleGraph.create(agentModules(), product, silentLogger());
    assert.deepEqual(graph.ids(), ["cluster", "ipam", "endpoint", "service", "cni-install"]);
    assert.deepEqual(
      SUBSYSTEMS.map((m) => m.id),
      ["ipam", "cluster", "endpoint", "service"],
    );
    assert.deepEqual(
      graph.statuses().map((s) => s.state),
      graph.ids().map(() => "created"),
    );
  });

  test("the CNI installer starts after every subsystem, whatever the list order", () => {
    const events: string[] = [];
    const modules = agentModules([
      recorder("endpoint", ["ipam"], events),
      recorder("ipam", [], events),
    ]);
    const graph = ModuleGraph.create(modules, config, silentLogger());
    assert.deepEqual(graph.ids(), ["ipam", "endpoint", "cni-install"]);
    assert.deepEqual(events, [
      'create ipam {"node":"n1"} deps=',
      'create endpoint {"node":"n1"} deps=ipam',
    ]);
  });

  test("start in dependency order, stop in reverse, readiness names the module", async () => {
    const events: string[] = [];
    const graph = ModuleGraph.create(
      [recorder("b", ["a"], events, { ready: false }), recorder("a", [], events)],
      config,
      silentLogger(),
    );
    assert.deepEqual(graph.readiness(), { ready: false, reason: "module a is created" });
    await graph.start(silentLogger());
    assert.deepEqual(graph.readiness(), {
      ready: false,
      reason: "module b is not ready: warming up",
    });
    assert.deepEqual(await graph.stop(silentLogger()), []);
    assert.deepEqual(
      events.filter((e) => !e.startsWith("create")),
      ["start a", "start b", "stop b", "stop a"],
    );
  });

  test("a failed start stops what already started and names the module", async () => {
    const events: string[] = [];
    const graph = ModuleGraph.create(
      [
        recorder("a", [], events),
        recorder("b", ["a"], events, { failStart: true }),
        recorder("c", ["b"], events),
      ],
      config,
      silentLogger(),
    );
    await assert.rejects(graph.start(silentLogger()), /module b failed to start: b cannot start/);
    assert.deepEqual(
      events.filter((e) => !e.startsWith("create")),
      ["start a", "stop a"],
    );
    assert.deepEqual(
      graph.statuses().map((s) => `${s.id}:${s.state}`),
      ["a:stopped", "b:failed", "c:created"],
    );
  });

  test("the product modules' own config checks run when the graph is built", () => {
    // The agent's schema checks each CIDR; IPAM's own check finds that they overlap.
    const { flags } = parseFlags(
      [
        "--nodeName=n1",
        "--ipam.podCIDRs=10.244.0.0/16",
        "--ipam.podCIDRs=10.244.1.0/24",
        "--cluster.source=directory",
        "--cluster.directory=/nonexistent",
      ],
      [],
    );
    const overlapping = loadAgentConfig({ flags, env: {} });
    assert.throws(
      () => ModuleGraph.create(agentModules(), overlapping, silentLogger()),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.some(
          (p) => p.startsWith("module ipam: ipam.podCIDRs.1") && p.includes("overlaps"),
        ),
    );
  });

  test("with no pod CIDRs configured, IPAM takes them from the Node object", () => {
    assert.doesNotThrow(() => ModuleGraph.create(agentModules(), config, silentLogger()));
  });

  test("module config problems are one ConfigError, each line naming the module", () => {
    const bad = (id: string): AnyModuleDecl => ({
      id,
      deps: [],
      config: () => {
        throw new ConfigError("x", [`${id}.size: must be positive`]);
      },
      create: () => ({}),
    });
    assert.throws(
      () => ModuleGraph.create([bad("p"), bad("q")], config, silentLogger()),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.join("|") ===
          "module p: p.size: must be positive|module q: q.size: must be positive",
    );
  });
});
