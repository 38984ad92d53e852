// The product agent as kube-proxy replacement, end to end: Services and
// EndpointSlices in its manifest directory -> service module -> pinned LB maps
// and the socket LB at the cgroup v2 root -> a real connect() from this test
// process to the ClusterIP reaches the backend (a server on loopback).
// Invalid Services are skipped with their reason in `fairway service list`
// and in the log, while the valid ones keep working; a Service added to the
// directory later is programmed within a second.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, connect as tcpConnect } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { stringify as toYaml } from "yaml";
import { ROUTES } from "../../src/base/api.ts";
import { repoRoot, requireRoot } from "../harness/index.ts";
import {
  AGENT_ENTRIES,
  agentDirs,
  agentGet,
  buildPluginBundle,
  spawnAgent,
  tempDir,
  writeAgentConfig,
} from "./cni-fixtures/harness.ts";

requireRoot();
const execFileAsync = promisify(execFile);

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await execFileAsync(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", ...args],
      {
        cwd: repoRoot,
      },
    );
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function service(name: string, clusterIP: string, port: number, protocol = "TCP", targetPort = 0) {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: "default" },
    spec: {
      selector: { app: name },
      clusterIP,
      clusterIPs: [clusterIP],
      ports: [{ name: "p", port, targetPort: targetPort || port, protocol }],
    },
  };
}

function slice(name: string, address: string, port: number) {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: `${name}-1`,
      namespace: "default",
      labels: { "kubernetes.io/service-name": name },
    },
    addressType: "IPv4",
    endpoints: [{ addresses: [address], conditions: { ready: true }, nodeName: "node-a" }],
    ports: [{ name: "p", port, protocol: "TCP" }],
  };
}

/** One TCP exchange; resolves with the server's line or the error code. */
function ask(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      resolve("ETIMEDOUT");
    }, 2000);
    s.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(e.code ?? String(e));
    });
    s.on("data", (d) => {
      clearTimeout(timer);
      s.end();
      resolve(d.toString().trim());
    });
  });
}

interface ListJson {
  services: {
    key: string;
    problems: string[];
    frontends: { address: string; programmed: boolean; backends: { address: string }[] }[];
  }[];
  skipped: { key: string; reason: string }[];
  datapath: { socketLb: boolean; errors: string[] };
}

test("the agent programs Services from its manifests; bad ones are skipped with a reason", async (t) => {
  const backend: Server = createServer((s) => s.end("backend-here\n"));
  await new Promise<void>((r) => backend.listen(0, "127.0.0.1", r));
  t.after(() => backend.close());
  const backendPort = (backend.address() as { port: number }).port;

  const root = tempDir(t, "svc");
  const dirs = agentDirs(root);
  const bundle = await buildPluginBundle(root);
  const pins = `/sys/fs/bpf/fwtsvc${process.pid.toString(36)}`;
  t.after(() => rmSync(pins, { recursive: true, force: true }));
  writeAgentConfig(dirs, bundle.path, { bpffsRoot: pins });
  const manifests = join(root, "manifests");
  const docs = [
    service("good", "10.96.77.10", 80, "TCP", backendPort),
    slice("good", "127.0.0.1", backendPort),
    service("bad-ip", "10.96.77.999", 80),
    service("bad-port", "10.96.77.12", 70000),
    service("bad-proto", "10.96.77.13", 80, "FOO"),
    // A second slice of the good service with a bad address and one with a bad port.
    {
      ...slice("good", "not-an-ip", backendPort),
      metadata: { ...slice("good", "", 0).metadata, name: "good-2" },
    },
    {
      ...slice("good", "127.0.0.2", 70000),
      metadata: { ...slice("good", "", 0).metadata, name: "good-3" },
    },
  ];
  writeFileSync(join(manifests, "services.yaml"), docs.map((d) => toYaml(d)).join("---\n"));

  const agent = spawnAgent(t, AGENT_ENTRIES.product, ["--config", dirs.configFile], dirs.socket);
  await agent.running();

  const list = await cli(["service", "list", "-o", "json", "--socket", dirs.socket]);
  assert.equal(list.code, 0, list.stderr);
  const status = JSON.parse(list.stdout) as ListJson;
  assert.equal(status.datapath.socketLb, true, JSON.stringify(status.datapath.errors));
  assert.deepEqual(
    status.services.map((s) => [s.key, s.frontends.map((f) => f.programmed)]),
    [["default/good", [true]]],
  );
  const good = status.services[0]!;
  assert.deepEqual(
    good.frontends[0]!.backends.map((b) => b.address),
    ["127.0.0.1"],
    "the bad EndpointSlice entries are left out",
  );
  assert.ok(
    good.problems.some((p) => p.includes("not-an-ip")),
    JSON.stringify(good.problems),
  );
  assert.ok(
    good.problems.some((p) => p.includes("70000")),
    JSON.stringify(good.problems),
  );
  const skipped = new Map(status.skipped.map((s) => [s.key, s.reason]));
  assert.match(skipped.get("default/bad-ip") ?? "", /10\.96\.77\.999/);
  assert.match(skipped.get("default/bad-port") ?? "", /70000/);
  assert.match(skipped.get("default/bad-proto") ?? "", /FOO/);
  const table = await cli(["service", "list", "--socket", dirs.socket]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /10\.96\.77\.10:80\/TCP/);
  assert.match(table.stdout, /default\/bad-port/);
  assert.match(agent.stdout + agent.stderr, /"service":"default\/bad-ip".*"msg":"service skipped"/);
  assert.match(
    agent.stdout + agent.stderr,
    /"service":"default\/good".*"msg":"service has problems"/,
  );

  // The socket LB at the cgroup root translates this very process's connect().
  assert.equal(await ask("10.96.77.10", 80), "backend-here");

  // A Service added to the directory later is in effect within a second.
  writeFileSync(
    join(manifests, "later.yaml"),
    [
      service("later", "10.96.77.20", 81, "TCP", backendPort),
      slice("later", "127.0.0.1", backendPort),
    ]
      .map((d) => toYaml(d))
      .join("---\n"),
  );
  // Poll the agent, not the address: an untranslated connect() would leave the machine.
  const t0 = Date.now();
  let programmed = false;
  while (!programmed && Date.now() - t0 < 3000) {
    const r = await agentGet(dirs.socket, ROUTES.services);
    const body = r.body as ListJson;
    programmed = body.services.some((s) => s.key === "default/later" && s.frontends[0]?.programmed);
    if (!programmed) await new Promise((res) => setTimeout(res, 20));
  }
  const took = Date.now() - t0;
  assert.ok(programmed, "default/later never programmed");
  assert.ok(took < 1000, `took ${took} ms`);
  assert.equal(await ask("10.96.77.20", 81), "backend-here");
  assert.deepEqual(await agent.stop("SIGINT"), { code: 0, signal: null });
});
