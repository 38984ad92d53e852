// runPlugin end to end in-process: env + stdin in, stdout + exit code out. The
// agent is an injected caller (a function), or a real unix socket server for
// the client's own failure modes.

import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer as createNetServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  AGENT_ERRORS,
  AgentUnreachableError,
  type CniRequest,
  callAgent,
} from "../../src/base/api.ts";
import type { AgentCaller } from "../../src/base/cni/commands.ts";
import { cniCodeForAgentError, fromAgentError } from "../../src/base/cni/errors.ts";
import { runPlugin } from "../../src/base/cni/plugin.ts";

interface Call {
  method: string;
  path: string;
  body: unknown;
}

/** Runs the plugin with `reply` standing in for the agent. */
async function plugin(
  env: Record<string, string>,
  stdin: unknown,
  reply: (call: Call) => unknown = () => ({}),
): Promise<{
  code: number;
  out: string;
  json: Record<string, unknown> | undefined;
  calls: Call[];
}> {
  const calls: Call[] = [];
  let out = "";
  const caller: AgentCaller = async (method, path, body) => {
    const call = { method, path, body };
    calls.push(call);
    return reply(call);
  };
  const code = await runPlugin({
    env,
    readStdin: async () => Buffer.from(typeof stdin === "string" ? stdin : JSON.stringify(stdin)),
    write: (t) => {
      out += t;
    },
    call: () => caller,
  });
  return { code, out, json: out.trim() ? JSON.parse(out) : undefined, calls };
}

const conf = {
  cniVersion: "1.0.0",
  name: "fairway",
  type: "fairway-cni",
  agentSocket: "/run/x/agent.sock",
};
const addEnv = {
  CNI_COMMAND: "ADD",
  CNI_CONTAINERID: "c1",
  CNI_NETNS: "/var/run/netns/c1",
  CNI_IFNAME: "eth0",
  CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web-0",
};
const agentResult = {
  cniVersion: "1.1.0",
  interfaces: [{ name: "eth0", mtu: 1500 }],
  ips: [{ address: "10.0.0.5/24", interface: 0 }],
};

describe("fairway-cni commands", () => {
  test("VERSION ignores stdin and prints the supported versions", async () => {
    const r = await plugin({ CNI_COMMAND: "VERSION" }, "not even json");
    assert.equal(r.code, 0);
    assert.deepEqual(r.json, {
      cniVersion: "1.1.0",
      supportedVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
    });
    assert.deepEqual(r.calls, []);
  });

  test("ADD sends one request with everything the agent needs and prints the converted result", async () => {
    const r = await plugin(
      addEnv,
      { ...conf, mtu: 1450, runtimeConfig: { portMappings: [] } },
      () => agentResult,
    );
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(r.json, {
      cniVersion: "1.0.0",
      interfaces: [{ name: "eth0" }],
      ips: [{ address: "10.0.0.5/24", interface: 0 }],
    });
    assert.deepEqual(r.calls, [
      {
        method: "POST",
        path: "/v1/cni/add",
        body: {
          network: "fairway",
          cniVersion: "1.0.0",
          containerId: "c1",
          ifname: "eth0",
          netns: "/var/run/netns/c1",
          args: { IgnoreUnknown: "1", K8S_POD_NAMESPACE: "ns", K8S_POD_NAME: "web-0" },
          pod: { namespace: "ns", name: "web-0" },
          runtimeConfig: { portMappings: [] },
          mtu: 1450,
        } satisfies CniRequest,
      },
    ]);
  });

  test("DEL, CHECK, GC and STATUS print nothing on success", async () => {
    const del = await plugin({ ...addEnv, CNI_COMMAND: "DEL", CNI_NETNS: "" }, conf);
    assert.deepEqual(
      [del.code, del.out, (del.calls[0]!.body as CniRequest).netns],
      [0, "", undefined],
    );
    const check = await plugin(
      { ...addEnv, CNI_COMMAND: "CHECK" },
      { ...conf, prevResult: agentResult },
    );
    assert.deepEqual([check.code, check.out, check.calls[0]!.path], [0, "", "/v1/cni/check"]);
    const gc = await plugin(
      { CNI_COMMAND: "GC" },
      {
        ...conf,
        cniVersion: "1.1.0",
        "cni.dev/valid-attachments": [{ containerID: "c1", ifname: "eth0" }],
      },
    );
    assert.equal(gc.code, 0, gc.out);
    assert.deepEqual(gc.calls[0]!.body, {
      network: "fairway",
      cniVersion: "1.1.0",
      validAttachments: [{ containerId: "c1", ifname: "eth0" }],
    });
    const status = await plugin(
      { CNI_COMMAND: "STATUS" },
      { ...conf, cniVersion: "1.1.0" },
      () => ({ ready: true }),
    );
    assert.deepEqual([status.code, status.out], [0, ""]);
  });
});

describe("fairway-cni error paths (stdout JSON, exit 1)", () => {
  const cases: [string, Record<string, string>, unknown, number, RegExp][] = [
    ["no CNI_COMMAND", {}, conf, 4, /required env variables \[CNI_COMMAND\] missing/],
    ["unknown command", { CNI_COMMAND: "UP" }, conf, 4, /unknown command "UP"/],
    [
      "missing env for ADD",
      { CNI_COMMAND: "ADD" },
      conf,
      4,
      /\[CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME\]/,
    ],
    ["bad CNI_ARGS", { ...addEnv, CNI_ARGS: "FOO=1" }, conf, 4, /CNI_ARGS: unknown argument FOO/],
    ["malformed stdin", addEnv, "{not json", 6, /failed to decode network configuration/],
    ["empty stdin", addEnv, "", 6, /stdin is empty/],
    ["missing name", addEnv, { cniVersion: "1.0.0", type: "fairway-cni" }, 7, /name: required/],
    ["wrong field type", addEnv, { ...conf, mtu: "big" }, 7, /mtu: must be an integer/],
    ["unknown field", addEnv, { ...conf, vlan: 7 }, 2, /unsupported field: vlan=7/],
    [
      "unknown cniVersion",
      addEnv,
      { ...conf, cniVersion: "9.9.9" },
      1,
      /incompatible CNI versions/,
    ],
    [
      "too old cniVersion",
      addEnv,
      { ...conf, cniVersion: "0.2.0" },
      1,
      /incompatible CNI versions/,
    ],
    [
      "CHECK on 0.3.1",
      { ...addEnv, CNI_COMMAND: "CHECK" },
      { ...conf, cniVersion: "0.3.1", prevResult: {} },
      1,
      /does not allow CHECK/,
    ],
    [
      "CHECK without prevResult",
      { ...addEnv, CNI_COMMAND: "CHECK" },
      conf,
      7,
      /prevResult is required for CHECK/,
    ],
    [
      "malformed prevResult",
      addEnv,
      { ...conf, prevResult: { ips: "x" } },
      7,
      /prevResult: ips must be a list/,
    ],
    ["GC on 1.0.0", { CNI_COMMAND: "GC" }, conf, 1, /does not allow GC/],
  ];
  for (const [name, env, stdin, code, msg] of cases) {
    test(`${name} -> ${code}`, async () => {
      const r = await plugin(env, stdin);
      assert.equal(r.code, 1);
      assert.equal(r.json!.code, code, r.out);
      assert.match(String(r.json!.msg), msg);
      assert.deepEqual(r.calls, [], "nothing reaches the agent");
      assert.equal(typeof r.json!.cniVersion, "string");
    });
  }

  test("the error JSON carries the config's cniVersion once it is known", async () => {
    const r = await plugin(addEnv, { ...conf, cniVersion: "0.4.0", bogus: 1 });
    assert.equal(r.json!.cniVersion, "0.4.0");
    const early = await plugin({}, conf);
    assert.equal(early.json!.cniVersion, "1.1.0");
  });

  test("agent errors map to CNI codes in one table", async () => {
    const expected: [string, string | undefined, number][] = [
      [AGENT_ERRORS.notReady, "transient", 11],
      [AGENT_ERRORS.noBackend, "transient", 11],
      [AGENT_ERRORS.badRequest, "expected", 7],
      [AGENT_ERRORS.unsupportedField, "expected", 2],
      [AGENT_ERRORS.containerUnknown, "expected", 3],
      [AGENT_ERRORS.ipamExhausted, "expected", 101],
      [AGENT_ERRORS.ifnameTaken, "expected", 102],
      [AGENT_ERRORS.netnsNotFound, "expected", 103],
      [AGENT_ERRORS.checkFailed, "expected", 105],
      [AGENT_ERRORS.datapath, "expected", 106],
      [AGENT_ERRORS.internal, "bug", 100],
      ["E_SOMETHING_NEW", "expected", 100],
      ["E_ENI_ATTACH_PENDING", "transient", 11],
    ];
    for (const [code, kind, cni] of expected)
      assert.equal(cniCodeForAgentError({ code, kind }), cni, code);
    const err = fromAgentError({
      code: AGENT_ERRORS.ipamExhausted,
      message: "pool empty",
      details: { pool: "10.0.0.0/24" },
    });
    assert.deepEqual(
      [err.code, err.message, err.details],
      [101, "pool empty", 'agent error E_IPAM_EXHAUSTED {"pool":"10.0.0.0/24"}'],
    );
  });
});

describe("fairway-cni and an agent that does not answer", () => {
  function tmp(t: { after(fn: () => void): void }): string {
    const dir = mkdtempSync(join(tmpdir(), "fwt-cnisock-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  async function real(
    env: Record<string, string>,
    stdin: unknown,
  ): Promise<{ code: number; json: Record<string, unknown>; ms: number }> {
    let out = "";
    const t0 = performance.now();
    const code = await runPlugin({
      env,
      readStdin: async () => Buffer.from(JSON.stringify(stdin)),
      write: (t) => (out += t),
    });
    return { code, json: out ? JSON.parse(out) : {}, ms: performance.now() - t0 };
  }

  test("no socket: ADD 11 at once, STATUS 50, DEL queued next to the socket and successful", async (t) => {
    const dir = tmp(t);
    const c = { ...conf, cniVersion: "1.1.0", agentSocket: join(dir, "agent.sock") };
    const add = await real(addEnv, c);
    assert.equal(add.json.code, 11);
    assert.match(
      String(add.json.msg),
      /fairway-agent is not reachable: cannot reach the agent at .*ENOENT/,
    );
    assert.ok(add.ms < 1000);
    const status = await real({ CNI_COMMAND: "STATUS" }, c);
    assert.equal(status.json.code, 50);
    const del = await real({ ...addEnv, CNI_COMMAND: "DEL" }, c);
    assert.equal(del.code, 0);
    const [entry] = readdirSync(join(dir, "cni-del-queue"));
    assert.equal(entry, "c1_eth0.json");
    const queued = JSON.parse(readFileSync(join(dir, "cni-del-queue", entry!), "utf8"));
    assert.equal(queued.by, "plugin");
    assert.equal(queued.request.containerId, "c1");
  });

  test("DEL fails with 11 only when even the queue cannot be written", async (t) => {
    // The socket's directory is a regular file: nothing can be created under it.
    const blocked = join(tmp(t), "not-a-dir");
    writeFileSync(blocked, "");
    const c = { ...conf, agentSocket: join(blocked, "agent.sock") };
    const del = await real({ ...addEnv, CNI_COMMAND: "DEL" }, c);
    assert.equal(del.code, 1);
    assert.equal(del.json.code, 11);
    assert.match(String(del.json.msg), /could not be queued/);
  });

  test("an agent that accepts but never answers: the caller gives up at its deadline", async (t) => {
    const path = join(tmp(t), "agent.sock");
    const accepted = new Set<Socket>();
    const silent: Server = createNetServer((s) => accepted.add(s));
    await new Promise<void>((r) => silent.listen(path, r));
    t.after(() => {
      for (const s of accepted) s.destroy();
      silent.close();
    });
    const t0 = performance.now();
    await assert.rejects(
      callAgent({
        socketPath: path,
        method: "GET",
        path: "/readyz",
        connectTimeoutMs: 500,
        timeoutMs: 300,
      }),
      (err: unknown) => err instanceof AgentUnreachableError && err.reason === "timeout",
    );
    assert.ok(performance.now() - t0 < 1000);
  });

  test("an answer that is not the agent's protocol is code 104", async (t) => {
    const path = join(tmp(t), "agent.sock");
    const odd = createHttpServer((_req, res) => {
      res.writeHead(502);
      res.end("<html>bad gateway</html>");
    });
    await new Promise<void>((r) => odd.listen(path, r));
    t.after(() => {
      odd.closeAllConnections();
      odd.close();
    });
    const add = await real(addEnv, { ...conf, agentSocket: path });
    assert.equal(add.json.code, 104);
    assert.match(String(add.json.msg), /agent answered HTTP 502 without an error body/);
  });
});
