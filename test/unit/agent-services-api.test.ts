// GET /v1/services on the agent's socket: the "service" module's
// ServiceStatusSource answers; without that module, 503 E_SERVICE_LB_DISABLED.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { Agent } from "../../src/agent/agent.ts";
import { loadAgentConfig } from "../../src/agent/config.ts";
import { agentModules } from "../../src/agent/modules.ts";
import type { ServiceStatusSource } from "../../src/agent/service-routes.ts";
import { callAgent, ROUTES } from "../../src/base/api.ts";
import { parseFlags } from "../../src/base/config.ts";
import { BugError } from "../../src/base/errors.ts";
import { silentLogger } from "../../src/base/log.ts";
import type { AnyModuleDecl } from "../../src/base/module.ts";
import type { ServiceStatus } from "../../src/service/index.ts";

const STATUS: ServiceStatus = {
  services: [
    {
      key: "default/web",
      type: "ClusterIP",
      algorithm: "random",
      problems: [],
      frontends: [
        {
          id: 1,
          kind: "ClusterIP",
          address: "10.96.0.20",
          family: "IPv4",
          port: 80,
          protocol: "TCP",
          portName: "",
          trafficPolicy: "Cluster",
          action: "forward",
          backends: [{ id: 1, address: "10.0.1.7", port: 8080, state: "active" }],
          programmed: false,
          error: "map full",
        },
      ],
    },
  ],
  skipped: [{ key: "default/headless", reason: "headless service: DNS only" }],
  datapath: {
    socketLb: true,
    tcLb: true,
    algorithm: "random",
    maglevTableSize: 16381,
    lastSyncMs: 3,
    errors: [],
  },
};

function serviceModule(instance: object): AnyModuleDecl {
  return { id: "service", deps: [], config: () => undefined, create: () => instance };
}

function agentWith(t: TestContext, subsystems: AnyModuleDecl[]) {
  const root = mkdtempSync(join(tmpdir(), "fwt-svc-api-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const bundle = join(root, "fairway-cni.js");
  writeFileSync(bundle, "#!/usr/bin/env node\n");
  const { flags } = parseFlags(
    [
      `--runDir=${join(root, "run")}`,
      `--cni.confDir=${join(root, "net.d")}`,
      `--cni.binDir=${join(root, "bin")}`,
      `--cni.pluginBundle=${bundle}`,
      "--nodeName=n1",
    ],
    [],
  );
  return new Agent({
    config: loadAgentConfig({ flags, env: {} }),
    log: silentLogger(),
    modules: agentModules(subsystems),
    version: "test",
  });
}

async function getServices(t: TestContext, subsystems: AnyModuleDecl[]) {
  const agent = agentWith(t, subsystems);
  t.after(() => agent.stop());
  await agent.start();
  return callAgent({
    socketPath: agent.socket,
    method: "GET",
    path: ROUTES.services,
    connectTimeoutMs: 500,
    timeoutMs: 5000,
  });
}

test("GET /v1/services answers what the service module's serviceStatus() returns", async (t) => {
  let calls = 0;
  const source: ServiceStatusSource = {
    serviceStatus: () => {
      calls++;
      return STATUS;
    },
  };
  assert.deepEqual(await getServices(t, [serviceModule(source)]), { status: 200, body: STATUS });
  assert.equal(calls, 1);
});

test("GET /v1/services without a service module: 503 E_SERVICE_LB_DISABLED", async (t) => {
  assert.deepEqual(await getServices(t, []), {
    status: 503,
    body: {
      code: "E_SERVICE_LB_DISABLED",
      message: "service load balancing is not enabled in this agent",
      kind: "expected",
      details: { module: "service" },
    },
  });
});

test("a service module without serviceStatus() is a bug caught when the agent is built", (t) => {
  assert.throws(() => agentWith(t, [serviceModule({})]), BugError);
});
