import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { claimSocketPath, listenUnix, releaseSocketPath } from "../../src/agent/socket.ts";
import { silentLogger } from "../../src/base/log.ts";

function dir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), "fwt-sock-"));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test("listen creates the socket with mode 0600; release removes only our own socket", async (t) => {
  const path = join(dir(t), "run", "agent.sock");
  await claimSocketPath(path, silentLogger());
  const server = createServer();
  const ino = await listenUnix(server, path);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  await new Promise((r) => server.close(r));
  releaseSocketPath(path, ino);
  assert.equal(existsSync(path), false);
  writeFileSync(path, "someone else's");
  releaseSocketPath(path, ino);
  assert.ok(existsSync(path), "a file that is not ours stays");
});

test("a stale socket is removed; a live agent or a regular file makes claim fail", async (t) => {
  const d = dir(t);
  const path = join(d, "agent.sock");
  // stale: the listener was SIGKILLed, the file is left
  const child = spawn(process.execPath, [
    "-e",
    `require("node:net").createServer().listen(${JSON.stringify(path)}, () => console.log("up"))`,
  ]);
  await new Promise((r) => child.stdout.once("data", r));
  child.kill("SIGKILL");
  await new Promise((r) => child.once("exit", r));
  assert.ok(statSync(path).isSocket());
  await claimSocketPath(path, silentLogger());
  assert.equal(existsSync(path), false);

  const live = createServer((_req, res) => res.end(JSON.stringify({ pid: 4242 })));
  await listenUnix(live, path);
  t.after(() => live.close());
  await assert.rejects(
    claimSocketPath(path, silentLogger()),
    /another fairway-agent \(pid 4242\) answers on/,
  );
  assert.ok(existsSync(path));

  const file = join(d, "plain");
  writeFileSync(file, "");
  await assert.rejects(claimSocketPath(file, silentLogger()), /exists and is not a socket/);
});
