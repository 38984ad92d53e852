import assert from "node:assert/strict";
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  buildConflist,
  type CniInstallConfig,
  CONFLIST_NAME,
  cniInstallModule,
} from "../../src/agent/cni-install.ts";
import { loadAgentConfig } from "../../src/agent/config.ts";
import { symlinkAtomic, writeFileAtomic } from "../../src/agent/fs-atomic.ts";
import { parseFlags } from "../../src/base/config.ts";
import { silentLogger } from "../../src/base/log.ts";

function tree(t: { after(fn: () => void): void }) {
  const root = mkdtempSync(join(tmpdir(), "fwt-install-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const bundle = join(root, "fairway-cni.js");
  writeFileSync(bundle, "#!/usr/bin/env node\nconsole.log('v1')\n");
  return { root, bundle, confDir: join(root, "net.d"), binDir: join(root, "bin") };
}

function installer(config: CniInstallConfig) {
  return cniInstallModule(["endpoint"]).create({ config, log: silentLogger(), deps: {} });
}

test("the module takes its slice of the agent config and waits for the given modules", () => {
  const { flags } = parseFlags(
    ["--runDir=/r", "--mtu=9001", "--cni.networkName=pods", "--nodeName=n"],
    [],
  );
  const decl = cniInstallModule(["ipam", "endpoint"]);
  assert.deepEqual(decl.deps, ["ipam", "endpoint"]);
  assert.deepEqual(decl.config(loadAgentConfig({ flags, env: {} })), {
    confDir: "/etc/cni/net.d",
    binDir: "/opt/cni/bin",
    networkName: "pods",
    agentSocket: "/r/agent.sock",
    mtu: 9001,
  });
});

test("the conflist is CNI 1.1.0 with one fairway-cni plugin", () => {
  const text = buildConflist({
    confDir: "/c",
    binDir: "/b",
    networkName: "fairway",
    agentSocket: "/run/fairway/agent.sock",
    mtu: 1450,
  });
  assert.deepEqual(JSON.parse(text), {
    cniVersion: "1.0.0",
    cniVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
    name: "fairway",
    plugins: [{ type: "fairway-cni", agentSocket: "/run/fairway/agent.sock", mtu: 1450 }],
  });
});

test("without a C front end: the plugin is a symlink to the bundle (0755); a second start changes nothing; stop leaves them", async (t) => {
  const { bundle, confDir, binDir } = tree(t);
  const config = {
    confDir,
    binDir,
    networkName: "fairway",
    pluginBundle: bundle,
    pluginBinary: "none",
    agentSocket: "/run/x/agent.sock",
  };
  const one = installer(config);
  await one.start();
  const plugin = join(binDir, "fairway-cni");
  assert.equal(
    readlinkSync(plugin),
    "fairway-cni.mjs",
    "the runtime execs a symlink to the ESM bundle",
  );
  assert.equal(statSync(plugin).mode & 0o777, 0o755);
  assert.equal(readFileSync(plugin, "utf8"), readFileSync(bundle, "utf8"));
  const conflist = join(confDir, CONFLIST_NAME);
  const first = statSync(conflist);
  await new Promise((r) => setTimeout(r, 15));
  await installer(config).start();
  assert.equal(statSync(conflist).mtimeMs, first.mtimeMs, "unchanged content is not rewritten");

  writeFileSync(bundle, "#!/usr/bin/env node\nconsole.log('v2')\n");
  await installer(config).start();
  assert.match(readFileSync(plugin, "utf8"), /v2/, "a new bundle replaces the plugin");
  await one.stop();
  assert.deepEqual(readdirSync(binDir).sort(), ["fairway-cni", "fairway-cni.mjs"]);
  assert.deepEqual(readdirSync(confDir), [CONFLIST_NAME]);
});

test("with a C front end: fairway-cni is a copy of it (0755), the bundle beside it; it replaces an older symlink", async (t) => {
  const { bundle, confDir, binDir, root } = tree(t);
  const frontEnd = join(root, "front-end");
  writeFileSync(frontEnd, "\x7fELF v1");
  const base = { confDir, binDir, networkName: "fairway", pluginBundle: bundle, agentSocket: "/s" };
  await installer({ ...base, pluginBinary: "none" }).start();
  assert.equal(readlinkSync(join(binDir, "fairway-cni")), "fairway-cni.mjs");

  await installer({ ...base, pluginBinary: frontEnd }).start();
  const plugin = join(binDir, "fairway-cni");
  assert.equal(lstatSync(plugin).isFile(), true, "a regular file, no longer the symlink");
  assert.equal(statSync(plugin).mode & 0o777, 0o755);
  assert.equal(readFileSync(plugin, "utf8"), "\x7fELF v1");
  assert.equal(readFileSync(join(binDir, "fairway-cni.mjs"), "utf8"), readFileSync(bundle, "utf8"));
  assert.deepEqual(readdirSync(binDir).sort(), ["fairway-cni", "fairway-cni.mjs"]);

  writeFileSync(frontEnd, "\x7fELF v2");
  await installer({ ...base, pluginBinary: frontEnd }).start();
  assert.equal(readFileSync(plugin, "utf8"), "\x7fELF v2", "a new front end replaces the old");
});

test("an explicit front end that is missing fails start", async (t) => {
  const { bundle, confDir, binDir, root } = tree(t);
  const config = {
    confDir,
    binDir,
    networkName: "fairway",
    pluginBundle: bundle,
    pluginBinary: join(root, "nope"),
    agentSocket: "/s",
  };
  await assert.rejects(installer(config).start(), /CNI front end .*nope not found/);
  assert.throws(() => readdirSync(confDir), /ENOENT/, "no conflist without a plugin");
});

test("a missing bundle fails start, naming where it looked", async (t) => {
  const { confDir, binDir, root } = tree(t);
  const config = {
    confDir,
    binDir,
    networkName: "fairway",
    pluginBundle: join(root, "nope.js"),
    agentSocket: "/s",
  };
  await assert.rejects(
    installer(config).start(),
    /CNI plugin bundle not found \(looked in .*nope\.js\)/,
  );
  assert.throws(() => readdirSync(confDir), /ENOENT/, "no conflist without a plugin");
});

test("writeFileAtomic replaces through a dot-named temporary file, fixing the mode", (t) => {
  const { root } = tree(t);
  const path = join(root, "d", "f.conflist");
  mkdirSync(join(root, "d"));
  writeFileSync(path, "old", { mode: 0o600 });
  assert.equal(writeFileAtomic(path, "new", 0o644), true);
  assert.equal(readFileSync(path, "utf8"), "new");
  assert.equal(statSync(path).mode & 0o777, 0o644);
  assert.equal(writeFileAtomic(path, "new", 0o644), false);
  assert.deepEqual(readdirSync(join(root, "d")), ["f.conflist"]);
});

test("symlinkAtomic replaces a regular file (an older install) and is idempotent", (t) => {
  const { root } = tree(t);
  const path = join(root, "fairway-cni");
  writeFileSync(path, "old copy");
  assert.equal(symlinkAtomic("fairway-cni.mjs", path), true);
  assert.equal(readlinkSync(path), "fairway-cni.mjs");
  assert.equal(symlinkAtomic("fairway-cni.mjs", path), false);
  assert.deepEqual(readdirSync(root).sort(), ["fairway-cni", "fairway-cni.js"]);
});
