import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { cidrProblem } from "../../src/agent/cidr.ts";
import {
  AGENT_LEAVES,
  type AgentConfig,
  loadAgentConfig,
  socketPath,
} from "../../src/agent/config.ts";
import { runAgent } from "../../src/agent/run.ts";
import { ConfigError, envName, parseFlags } from "../../src/base/config.ts";

function withFile(t: { after(fn: () => void): void }, yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), "fwt-conf-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "agent.yaml");
  writeFileSync(path, yaml);
  return path;
}

function load(options: { argv?: string[]; env?: NodeJS.ProcessEnv; file?: string }): AgentConfig {
  const { flags, problems } = parseFlags(options.argv ?? [], []);
  return loadAgentConfig({
    flags,
    env: options.env ?? {},
    configPath: options.file,
    argvProblems: problems,
  });
}

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    return [...err.problems];
  }
  assert.fail("expected a ConfigError");
}

describe("agent config", () => {
  test("defaults: every field has one, and the result is frozen", () => {
    const c = load({ env: { FAIRWAY_NODE_NAME: "n1" } });
    assert.deepEqual(c, {
      nodeName: "n1",
      stateDir: "/var/lib/fairway",
      runDir: "/run/fairway",
      bpffsRoot: "/sys/fs/bpf/fairway",
      cgroupRoot: "/sys/fs/cgroup",
      log: { level: "info" },
      datapath: { mode: "veth" },
      ipam: { podCIDRs: [], durability: "process" },
      cluster: { source: "kubernetes" },
      service: {
        algorithm: "random",
        maglevTableSize: 16381,
        socketLb: true,
        tcLb: true,
        nodeAddresses: [],
      },
      cni: { confDir: "/etc/cni/net.d", binDir: "/opt/cni/bin", networkName: "fairway" },
    });
    assert.equal(socketPath(c), "/run/fairway/agent.sock");
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.ipam) && Object.isFrozen(c.ipam.podCIDRs));
    assert.throws(() => {
      (c as { nodeName: string }).nodeName = "x";
    }, TypeError);
  });

  test("the default file path is optional; an explicit one must exist", () => {
    assert.doesNotThrow(() => load({}));
    assert.deepEqual(
      problems(() => load({ file: "/nonexistent/agent.yaml" })),
      ["config file /nonexistent/agent.yaml: cannot read it (ENOENT)"],
    );
  });

  test("merge order: defaults < file < env < flags", (t) => {
    const file = withFile(
      t,
      "nodeName: from-file\nmtu: 1400\nlog: {level: debug}\nipam: {podCIDRs: [10.0.0.0/24]}\n",
    );
    const c = load({
      file,
      env: { FAIRWAY_MTU: "9001", FAIRWAY_NODE_NAME: "from-env" },
      argv: ["--nodeName=from-flag", "--ipam.podCIDRs", "10.1.0.0/24,fd00::/64"],
    });
    assert.equal(c.nodeName, "from-flag");
    assert.equal(c.mtu, 9001);
    assert.equal(c.log.level, "debug", "untouched file values stay");
    assert.deepEqual(
      c.ipam.podCIDRs,
      ["10.1.0.0/24", "fd00::/64"],
      "lists are replaced, not merged",
    );
    assert.equal(c.stateDir, "/var/lib/fairway");
  });

  test("a repeated list flag appends", () => {
    const c = load({ argv: ["--ipam.podCIDRs=10.0.0.0/24", "--ipam.podCIDRs=10.0.1.0/24"] });
    assert.deepEqual(c.ipam.podCIDRs, ["10.0.0.0/24", "10.0.1.0/24"]);
  });

  test("env names are derived from the field paths, one per setting", () => {
    const names = AGENT_LEAVES.map((l) => envName("FAIRWAY_", l.path));
    assert.ok(names.includes("FAIRWAY_IPAM_POD_CIDRS"));
    assert.ok(names.includes("FAIRWAY_CNI_CONF_DIR"));
    assert.ok(names.includes("FAIRWAY_DATAPATH_MODE"));
    assert.equal(new Set(names).size, names.length);
  });

  test("one error lists every problem, each naming its field and source", (t) => {
    const file = withFile(
      t,
      [
        "ipam:",
        "  podCIDRs: [10.0.0.0/24, 10.0.0.0/33, 10.0.0.1/24, banana]",
        "  podCidrs: []",
        "datapath: {mode: ebpf}",
        "cluster: {source: directory}",
        "extra: 1",
      ].join("\n"),
    );
    const found = problems(() =>
      load({
        file,
        env: { FAIRWAY_MTU: "big" },
        argv: ["--cni.binDir=relative/bin", "--nodeNme=x", "--log.level=loud"],
      }),
    );
    assert.deepEqual(found, [
      "unknown flag --nodeNme (did you mean --nodeName?)",
      'mtu: expected number, got "big" (from env FAIRWAY_MTU)',
      'log.level: must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent", got "loud" (from flag --log.level)',
      `datapath.mode: must be one of "veth", "veth-legacy", got "ebpf" (from file ${file})`,
      `ipam.podCIDRs[1]: "10.0.0.0/33" is not a valid CIDR (prefix length must be 0-32) (from file ${file})`,
      `ipam.podCIDRs[2]: "10.0.0.1/24" has host bits set (did you mean 10.0.0.0/24?) (from file ${file})`,
      `ipam.podCIDRs[3]: "banana" is not a valid CIDR (bad address) (from file ${file})`,
      `ipam.podCidrs: unknown setting (did you mean podCIDRs?) (from file ${file})`,
      'cluster.directory: required when cluster.source is "directory"',
      'cni.binDir: "relative/bin" is not an absolute path (from flag --cni.binDir)',
      `extra: unknown setting (from file ${file})`,
    ]);
  });

  test("YAML that is not a mapping, or not YAML", (t) => {
    assert.match(
      problems(() => load({ file: withFile(t, "- a\n- b\n") }))[0]!,
      /must be a mapping of settings, got a list/,
    );
    assert.match(
      problems(() => load({ file: withFile(t, "a: [1,\n") }))[0]!,
      /not valid YAML at line \d+/,
    );
    assert.doesNotThrow(() => load({ file: withFile(t, "") }), "an empty file is no settings");
  });

  test("range and format checks", () => {
    assert.deepEqual(
      problems(() => load({ argv: ["--mtu=40"] })),
      ["mtu: must be at least 68, got 40 (from flag --mtu)"],
    );
    assert.deepEqual(
      problems(() => load({ argv: ["--mtu=1500.5"] })),
      ["mtu: expected int, got 1500.5 (from flag --mtu)"],
    );
    assert.match(
      problems(() => load({ argv: ["--nodeName=Node_A"] }))[0]!,
      /nodeName: "Node_A" is not a valid node name/,
    );
    assert.match(
      problems(() => load({ argv: ["--cni.networkName=-x"] }))[0]!,
      /cni.networkName: "-x" is not a valid CNI network name/,
    );
  });

  test("argv problems are part of the same error", () => {
    const { flags, problems: argvProblems } = parseFlags(["stray", "--mtu"], []);
    const found = problems(() => loadAgentConfig({ flags, env: {}, argvProblems }));
    assert.deepEqual(found, [
      'unexpected argument "stray" (settings are given as --name=value)',
      "flag --mtu needs a value (--mtu=value)",
    ]);
  });
});

describe("cidrProblem", () => {
  test("accepts network CIDRs of both families", () => {
    for (const ok of [
      "10.0.0.0/8",
      "0.0.0.0/0",
      "10.1.2.3/32",
      "fd00::/8",
      "2001:db8::/32",
      "::/0",
      "::ffff:10.0.0.0/120",
    ]) {
      assert.equal(cidrProblem(ok), undefined, ok);
    }
  });
  test("names what is wrong", () => {
    assert.match(cidrProblem("10.0.0.0")!, /prefix length/);
    assert.match(cidrProblem("10.0.0.0/x")!, /prefix length/);
    assert.match(cidrProblem("fd00::/129")!, /prefix length must be 0-128/);
    assert.match(cidrProblem("300.0.0.0/8")!, /bad address/);
    assert.equal(
      cidrProblem("fd00::1/64"),
      '"fd00::1/64" has host bits set (did you mean fd00::/64?)',
    );
    assert.equal(
      cidrProblem("2001:db8:0:1::/48"),
      '"2001:db8:0:1::/48" has host bits set (did you mean 2001:db8::/48?)',
    );
  });
});

describe("fairway-agent command line", () => {
  test("bad config exits 2 with the problems on stderr; --help and --print-config exit 0", async () => {
    let err = "";
    let out = "";
    const io = { stdout: (s: string) => (out += s), stderr: (s: string) => (err += s) };
    assert.equal(await runAgent(["--datapath.mode=x"], {}, io), 2);
    assert.match(
      err,
      /^fairway-agent: invalid agent configuration:\n {2}- datapath\.mode: must be one of/,
    );
    assert.equal(await runAgent(["--help"], {}, io), 0);
    assert.match(out, /--ipam\.podCIDRs=<string\[\]>\s+FAIRWAY_IPAM_POD_CIDRS/);
    out = "";
    assert.equal(
      await runAgent(["--print-config", "--nodeName=n9", "--ipam.podCIDRs=10.9.0.0/16"], {}, io),
      0,
    );
    assert.match(out, /^nodeName: n9$/m);
    assert.match(out, /podCIDRs:\n\s+- 10\.9\.0\.0\/16/);
  });
});
