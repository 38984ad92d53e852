// The lab as a newcomer runs it, end to end, on one lab for the whole suite:
// `lab up` (3 nodes, the demo app) and `lab check` pass; a pod applied later
// has an address and answers within a second, and deleting it frees
// everything; killing a node's agent leaves its pods reachable and a restart
// restores them without re-plumbing; bad input is refused clearly with
// nothing else disturbed; `lab down` leaves nothing behind.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { callAgent, ROUTES } from "../../src/base/api.ts";
import {
  applyFiles,
  deleteObjects,
  listRecords,
  openLab,
  type PodRecord,
  type ProbeClient,
  probeFromPod,
  readState,
  withLabLock,
} from "../../src/lab/index.ts";
import {
  FIXTURES,
  lab,
  leftovers,
  rootRoutes,
  type TestLab,
  testLab,
} from "../fixtures/lab/harness.ts";
import { run } from "../harness/index.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Probes until one answers; resolves with the time of the first answer (performance.now()). */
async function firstAnswer(
  client: ProbeClient,
  host: string,
  port: number,
  deadlineMs: number,
): Promise<number> {
  for (;;) {
    const r = await client.probe({ proto: "http", host, port, timeoutMs: 200 });
    if (r.ok) return performance.now();
    assert.ok(performance.now() < deadlineMs, `no answer from ${host}:${port}: ${r.error}`);
    await sleep(5);
  }
}

async function answers(client: ProbeClient, host: string, port: number): Promise<string> {
  const r = await client.probe({ proto: "http", host, port, timeoutMs: 2000 });
  assert.ok(r.ok, `${client.source} -> ${host}:${port}: ${r.error}`);
  return r.reply ?? "";
}

/** Host-side links of a node namespace, name -> ifindex. */
function nodeLinks(netns: string): Map<string, number> {
  const links = JSON.parse(run("ip", ["-n", netns, "-j", "link", "show"])) as {
    ifindex: number;
    ifname: string;
  }[];
  return new Map(links.filter((l) => l.ifname.startsWith("fwp")).map((l) => [l.ifname, l.ifindex]));
}

function manifestsSnapshot(l: TestLab): string {
  const dir = join(l.stateDir, "manifests");
  return readdirSync(dir)
    .sort()
    .map((f) => `${f}\n${readFileSync(join(dir, f), "utf8")}`)
    .join("\n");
}

function podPids(l: TestLab): string {
  return listRecords(join(l.stateDir, "pods"))
    .map((r: PodRecord) => `${r.namespace}/${r.name}:${r.containers.map((c) => c.pid).join(",")}`)
    .sort()
    .join(" ");
}

describe("fairway lab: 3 nodes and the demo app", () => {
  let l: TestLab;
  const releases: (() => Promise<void>)[] = [];
  let routesBefore = "";

  before(async () => {
    const { requireRoot } = await import("../harness/index.ts");
    requireRoot();
    routesBefore = rootRoutes();
    l = testLab((fn) => releases.push(fn));
  });
  after(async () => {
    for (const fn of releases.reverse()) await fn();
  });

  test("lab up with the demo app, then lab check passes", async (t) => {
    const up = await lab(l, "up");
    assert.equal(up.code, 0, up.stdout + up.stderr);
    assert.match(up.stdout, /lab up: 3 node\(s\) ready in/);
    assert.match(up.stdout, /what to try next:\n {2}fairway lab check/);
    const pods = JSON.parse((await lab(l, "get", "pods", "-o", "json")).stdout) as {
      items: {
        metadata: { name: string };
        spec: { nodeName: string };
        status: { phase: string; podIP: string };
      }[];
    };
    assert.ok(pods.items.length >= 6, `${pods.items.length} pods`);
    for (const p of pods.items) assert.equal(p.status.phase, "Running", p.metadata.name);
    assert.equal(
      new Set(pods.items.map((p) => p.spec.nodeName)).size,
      3,
      "spread over the 3 nodes",
    );
    const svcs = await lab(l, "get", "services");
    assert.match(svcs.stdout, /web\s+NodePort\s+10\.96\.\d+\.\d+\s+<none>\s+80:30080\/TCP/);
    assert.match(svcs.stdout, /echo\s+ClusterIP\s+10\.96\.\d+\.\d+\s+<none>\s+7\/TCP,7\/UDP/);
    const slices = await lab(l, "get", "endpointslices", "-o", "wide");
    assert.match(
      slices.stdout,
      /web-\w+\s+IPv4\s+8080\s+10\.100\.\d\.\d+,10\.100\.\d\.\d+,10\.100\.\d\.\d+/,
    );

    const check = await lab(l, "check");
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /lab check: all passed: 12 passed, 0 failed, 0 skipped/);
    for (const s of [
      "pod-to-pod/same-node",
      "pod-to-pod/cross-node",
      "pod-to-service/cluster-ip",
      "pod-to-service/node-port-remote",
      "pod-to-outside",
    ])
      assert.match(check.stdout, new RegExp(`${s}\\s+pass\\s+[\\d.]+ ms`));
    t.diagnostic(
      `lab up ${(up.ms / 1000).toFixed(1)} s + lab check ${(check.ms / 1000).toFixed(1)} s (CLI wall times)`,
    );
    const status = await lab(l, "status");
    assert.equal(status.code, 0, status.stdout);
    assert.match(status.stdout, /outside: 198\.51\.100\.1:80 serving/);
  });

  test("a pod applied after up answers within a second; deleting it frees everything", async (t) => {
    const ctx = openLab(l.stateDir);
    const client = await probeFromPod(ctx, "default", "client");
    t.after(() => client.close());
    await answers(client, "198.51.100.1", 80); // the client's probe process is up

    const t0 = performance.now();
    const report = await withLabLock(l.stateDir, "test apply", () =>
      applyFiles(ctx, [join(FIXTURES, "late-pod.yaml")]),
    );
    assert.deepEqual(report.errors, []);
    const line = report.lines.find((x) => x.ref === "pod/late");
    assert.equal(line?.action, "created");
    const t1 = await firstAnswer(client, line!.ip!, 8080, t0 + 5000);
    const ms = t1 - t0;
    t.diagnostic(
      `pod applied -> first answer from another pod: ${ms.toFixed(0)} ms (ready in ${line!.readyMs} ms)`,
    );
    assert.ok(ms < 1000, `first answer after ${ms.toFixed(0)} ms`);

    const rec = listRecords(join(l.stateDir, "pods")).find((r) => r.name === "late")!;
    const node = readState(l.stateDir)!.nodes.find((n) => n.name === rec.node)!;
    const endpoints = async () => {
      const r = await callAgent({
        socketPath: node.socket,
        method: "GET",
        path: ROUTES.endpoints,
        connectTimeoutMs: 1000,
        timeoutMs: 5000,
      });
      return (r.body as { containerId: string }[]).filter((e) => e.containerId === rec.containerId);
    };
    assert.equal((await endpoints()).length, 1);
    const cgroup = join(readState(l.stateDir)!.cgroupMount!, rec.cgroup);
    assert.ok(existsSync(cgroup));

    const del = await withLabLock(l.stateDir, "test delete", () =>
      deleteObjects(openLab(l.stateDir), [{ kind: "Pod", name: "late", namespace: "default" }]),
    );
    assert.deepEqual(del.deleted, ["pod/late"]);
    assert.deepEqual(del.warnings, []);
    assert.deepEqual(await endpoints(), [], "the agent's endpoint is gone");
    assert.ok(!existsSync(`/run/netns/${rec.netns}`), "the pod's namespace is gone");
    assert.ok(!existsSync(cgroup), "the pod's cgroup is gone");
    assert.ok(!existsSync(join(l.stateDir, "pods", "default_late")), "the pod's record is gone");
    const r = await client.probe({ proto: "http", host: rec.ip!, port: 8080, timeoutMs: 300 });
    assert.equal(r.ok, false, "nothing answers at the old address");
    assert.doesNotMatch((await lab(l, "get", "pods")).stdout, /late/);
  });

  test("a killed agent leaves its node's pods reachable; a restart restores them without re-plumbing", async () => {
    const state = readState(l.stateDir)!;
    const node = state.nodes[0]!;
    const ctx = openLab(l.stateDir);
    const pods = ctx.store.pods("default").filter((p) => p.spec.nodeName === node.name);
    assert.ok(pods.length >= 1);
    const linksBefore = nodeLinks(node.netns);
    const pidsBefore = podPids(l);
    const portOf = (p: (typeof pods)[number]) => p.spec.containers[0]!.ports![0]!.containerPort;
    const remote = await probeFromPod(ctx, "default", "client");
    const local = await probeFromPod(ctx, "default", pods[0]!.metadata.name);
    try {
      process.kill(node.pid!, "SIGKILL");
      while (
        existsSync(`/proc/${node.pid}/cmdline`) &&
        readFileSync(`/proc/${node.pid}/cmdline`, "utf8") !== ""
      )
        await sleep(20);
      const status = await lab(l, "status");
      assert.match(status.stdout, new RegExp(`${node.name}\\s.*not running`));
      const web = ctx.store.services("default").find((s) => s.metadata.name === "web")!;
      for (const p of pods)
        assert.match(
          await answers(remote, p.status!.podIP!, portOf(p)),
          new RegExp(`^hello from ${p.metadata.name} `),
        );
      assert.match(
        await answers(local, web.spec.clusterIP!, 80),
        /^hello from web-/,
        "the node's socket LB still works",
      );
      assert.match(
        await answers(remote, node.vpcIp, 30080),
        /^hello from web-/,
        "its NodePort still works",
      );

      const restart = await lab(l, "restart-agent", node.name);
      assert.equal(restart.code, 0, restart.stdout + restart.stderr);
      assert.deepEqual(nodeLinks(node.netns), linksBefore, "same host veths, same ifindexes");
      const log = readFileSync(node.logFile, "utf8")
        .split("\n")
        .filter((x) => x.includes('"endpoints restored"'));
      const restored = JSON.parse(log.at(-1)!) as { restored: number; orphanLinks: unknown[] };
      assert.equal(restored.restored, pods.length);
      assert.deepEqual(restored.orphanLinks, []);
      assert.equal(podPids(l), pidsBefore, "the pods' processes are the same");
      assert.match(await answers(local, web.spec.clusterIP!, 80), /^hello from web-/);
      const check = await lab(l, "check");
      assert.equal(check.code, 0, check.stdout + check.stderr);
    } finally {
      await remote.close();
      await local.close();
    }
  });

  test("bad input is reported clearly and disturbs nothing", async () => {
    const before = manifestsSnapshot(l);
    const pids = podPids(l);
    const cases: [string, RegExp][] = [
      [
        "bad-unknown-kind.yaml",
        /document 2 \(line 9\): unknown kind "Deployment": the lab takes Namespace, Pod, Service/,
      ],
      ["bad-no-image.yaml", /pod\/nothing-to-run: container "c" has neither image nor command/],
      [
        "bad-port-clash.yaml",
        /port clash: service\/clash: nodePort 30080 is already allocated to service default\/web/,
      ],
      ["bad-yaml.yaml", /bad-yaml\.yaml, document 1 \(line 1\): invalid YAML at line 6, column 1/],
    ];
    for (const [file, message] of cases) {
      const r = await lab(l, "apply", "-f", join(FIXTURES, file));
      assert.equal(r.code, 1, `${file}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /nothing was applied/, file);
      assert.match(r.stderr, message, file);
      assert.doesNotMatch(r.stderr, /\n\s+at /, `${file}: no stack trace for bad input`);
    }
    const notFound = await lab(l, "get", "pods", "nope");
    assert.equal(notFound.code, 1);
    assert.match(notFound.stderr, /pods "nope" not found in namespace default/);
    assert.equal(manifestsSnapshot(l), before, "no object written");
    assert.equal(podPids(l), pids, "no pod restarted");

    const lonely = await lab(l, "apply", "-f", join(FIXTURES, "bad-selects-nothing.yaml"));
    assert.equal(lonely.code, 0, lonely.stderr);
    assert.match(lonely.stdout, /service\/lonely created/);
    assert.match(
      lonely.stderr,
      /Warning: service\/lonely: selects no pods in namespace default \(selector app=nobody-has-this-label\)/,
    );
    const del = await lab(l, "delete", "-f", join(FIXTURES, "bad-selects-nothing.yaml"));
    assert.equal(del.code, 0, del.stderr);
    assert.equal(manifestsSnapshot(l), before);
    assert.equal(podPids(l), pids);
  });

  test("lab down leaves no namespace, link, route, pin, cgroup, process or state", async () => {
    const down = await lab(l, "down");
    assert.equal(down.code, 0, down.stdout + down.stderr);
    assert.match(
      down.stdout,
      /3 agent\(s\) stopped, \d+ namespace\(s\) deleted, \d+ pod process\(es\) stopped, pins removed, cgroups removed/,
    );
    assert.deepEqual(leftovers(l), []);
    assert.equal(rootRoutes(), routesBefore, "no route added or left in the root namespace");
  });
});
