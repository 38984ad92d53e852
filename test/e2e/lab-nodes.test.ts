// `fairway lab up|status|down` for real, through the CLI: namespaces, VPC,
// native routes, one agent per node; then `down` leaves nothing, also after an
// `up` killed half-way. Each run uses its own state dir and name prefix (fwt…,
// so the suite's leftover check sees anything missed), never a real lab's.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { promisify } from "node:util";
import { labDown, pinRootFor, readState } from "../../src/lab/index.ts";
import { repoRoot, requireRoot, run, uniqueName } from "../harness/index.ts";

const exec = promisify(execFile);
const CLI = [process.execPath, "--import", "tsx", "src/cli/main.ts", "lab"];

interface TestLab {
  prefix: string;
  stateDir: string;
  args: string[];
}

function testLab(t: TestContext): TestLab {
  const prefix = uniqueName("lab");
  const parent = mkdtempSync(join(tmpdir(), "fwt-lab-"));
  const stateDir = join(parent, "lab");
  t.after(async () => {
    await labDown({ stateDir, prefix, graceMs: 2000 });
    rmSync(parent, { recursive: true, force: true });
  });
  return { prefix, stateDir, args: ["--prefix", prefix, "--state-dir", stateDir] };
}

async function lab(l: TestLab, ...args: string[]): Promise<{ code: number; stdout: string }> {
  try {
    const r = await exec(CLI[0]!, [...CLI.slice(1), ...args, ...l.args], {
      cwd: repoRoot,
      timeout: 120_000,
    });
    return { code: 0, stdout: r.stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

/** Everything of this lab that could still exist, by name. */
function leftovers(l: TestLab): string[] {
  const found = run("ip", ["netns", "list"])
    .split("\n")
    .map((line) => line.split(" ")[0]!)
    .filter((n) => n.startsWith(`${l.prefix}-`))
    .map((n) => `netns ${n}`);
  if (existsSync(pinRootFor(l.prefix))) found.push(`pins ${pinRootFor(l.prefix)}`);
  if (existsSync(l.stateDir)) found.push(`state ${l.stateDir}`);
  for (const pid of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(l.stateDir))
        found.push(`process ${pid}`);
    } catch {
      // gone
    }
  }
  return found;
}

test("lab up --nodes 2: agents ready, VPC reachability, native pod-CIDR routes; down leaves nothing", async (t) => {
  requireRoot();
  const l = testLab(t);
  const upRun = await lab(l, "up", "--nodes", "2");
  assert.equal(upRun.code, 0, upRun.stdout);
  assert.match(upRun.stdout, /lab up: 2 node\(s\) ready in/);

  const status = await lab(l, "status", "-o", "json");
  assert.equal(status.code, 0, status.stdout);
  const s = JSON.parse(status.stdout) as { nodes: { name: string; ready: boolean }[] };
  assert.deepEqual(
    s.nodes.map((n) => [n.name, n.ready]),
    [
      [`${l.prefix}-node-1`, true],
      [`${l.prefix}-node-2`, true],
    ],
  );
  const table = await lab(l, "status");
  assert.match(
    table.stdout,
    new RegExp(`${l.prefix}-node-2\\s+172\\.31\\.0\\.12\\s+10\\.100\\.2\\.0/24\\s+\\d+\\s+ready`),
  );

  const nodeA = `/run/netns/${l.prefix}-node-1`;
  run("nsenter", [`--net=${nodeA}`, "ping", "-c", "1", "-W", "2", "172.31.0.12"]);
  const routes = JSON.parse(run("ip", ["-n", `${l.prefix}-node-1`, "-j", "route"])) as {
    dst: string;
    gateway?: string;
  }[];
  assert.ok(
    routes.some((r) => r.dst === "10.100.2.0/24" && r.gateway === "172.31.0.12"),
    JSON.stringify(routes),
  );

  const down = await lab(l, "down");
  assert.equal(down.code, 0, down.stdout);
  assert.deepEqual(leftovers(l), []);
  const again = await lab(l, "down");
  assert.equal(again.code, 0, again.stdout);
  assert.match(again.stdout, /0 agent\(s\) stopped, 0 namespace\(s\) deleted/);
});

test("an up killed right after its first agent starts is cleaned by down", async (t) => {
  requireRoot();
  const l = testLab(t);
  const up = spawn(CLI[0]!, [...CLI.slice(1), "up", "--nodes", "2", ...l.args], {
    cwd: repoRoot,
    stdio: "ignore",
  });
  const exited = new Promise((resolve) => up.once("exit", resolve));
  t.after(() => {
    up.kill("SIGKILL");
  });
  const deadline = Date.now() + 60_000;
  while (!readState(l.stateDir)?.nodes[0]?.pid) {
    assert.ok(Date.now() < deadline, "the first agent never started");
    await new Promise((r) => setTimeout(r, 5));
  }
  up.kill("SIGKILL");
  await exited;
  assert.notEqual(readState(l.stateDir)?.phase, "up");
  const left = leftovers(l);
  assert.ok(
    left.some((x) => x.startsWith("process ")),
    `an agent runs: ${left.join(", ")}`,
  );
  assert.ok(
    left.some((x) => x.startsWith("netns ")),
    `namespaces exist: ${left.join(", ")}`,
  );

  const down = await lab(l, "down");
  assert.equal(down.code, 0, down.stdout);
  assert.deepEqual(leftovers(l), []);
});
