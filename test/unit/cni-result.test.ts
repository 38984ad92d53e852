import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { CniResult } from "../../src/base/api.ts";
import { CniError } from "../../src/base/cni/errors.ts";
import { convertResult, mergeChained, normalizePrevResult } from "../../src/base/cni/result.ts";
import { checkVersion, compareVersions, versionOutput } from "../../src/base/cni/version.ts";

const result: CniResult = {
  cniVersion: "1.1.0",
  interfaces: [
    { name: "fw1234", mac: "02:00:00:00:00:01" },
    {
      name: "eth0",
      mac: "02:00:00:00:00:02",
      mtu: 9001,
      sandbox: "/var/run/netns/p",
      pciID: "0000:00:01.0",
    },
  ],
  ips: [
    { address: "10.244.1.5/24", gateway: "10.244.1.1", interface: 1 },
    { address: "fd00::5/64", interface: 1 },
  ],
  routes: [{ dst: "0.0.0.0/0", gw: "10.244.1.1", mtu: 1400, table: 100, scope: 0 }],
  dns: { nameservers: ["10.96.0.10"] },
};

describe("result conversion", () => {
  test("1.1.0 stays as it is", () => {
    assert.deepEqual(convertResult(result, "1.1.0"), result);
  });

  test("1.0.0 drops the 1.1.0 interface and route fields", () => {
    assert.deepEqual(convertResult(result, "1.0.0"), {
      cniVersion: "1.0.0",
      interfaces: [
        { name: "fw1234", mac: "02:00:00:00:00:01" },
        { name: "eth0", mac: "02:00:00:00:00:02", sandbox: "/var/run/netns/p" },
      ],
      ips: result.ips,
      routes: [{ dst: "0.0.0.0/0", gw: "10.244.1.1" }],
      dns: { nameservers: ["10.96.0.10"] },
    });
  });

  test("0.4.0 and 0.3.x add ips[].version", () => {
    for (const v of ["0.4.0", "0.3.1", "0.3.0"]) {
      const out = convertResult(result, v) as {
        cniVersion: string;
        ips: { version: string; address: string }[];
      };
      assert.equal(out.cniVersion, v);
      assert.deepEqual(
        out.ips.map((ip) => `${ip.version} ${ip.address}`),
        ["4 10.244.1.5/24", "6 fd00::5/64"],
      );
    }
  });

  test("a prevResult of an older version is read into the 1.1.0 shape", () => {
    const prev = normalizePrevResult({
      cniVersion: "0.4.0",
      interfaces: [{ name: "eth0", sandbox: "/x" }],
      ips: [{ version: "4", address: "10.0.0.2/24", interface: 0 }],
    });
    assert.deepEqual(prev, {
      cniVersion: "1.1.0",
      interfaces: [{ name: "eth0", sandbox: "/x" }],
      ips: [{ address: "10.0.0.2/24", interface: 0 }],
    });
  });

  test("a malformed prevResult is an invalid config (7) naming the field", () => {
    const err = (raw: unknown) => {
      try {
        normalizePrevResult(raw);
      } catch (e) {
        assert.ok(e instanceof CniError);
        return `${e.code} ${e.message}`;
      }
      return "no error";
    };
    assert.equal(err([]), "7 prevResult: must be an object");
    assert.equal(err({ ips: [{ address: 5 }] }), "7 prevResult: ips[0].address must be a string");
    assert.equal(
      err({ ips: [{ address: "x", interface: -1 }] }),
      "7 prevResult: ips[0].interface must be an interface index",
    );
    assert.equal(err({ interfaces: {} }), "7 prevResult: interfaces must be a list");
  });

  test("chaining appends Fairway's interfaces, shifting IP interface indexes", () => {
    const prev: CniResult = {
      cniVersion: "1.1.0",
      interfaces: [{ name: "a" }, { name: "b" }],
      ips: [{ address: "192.168.1.2/24", interface: 1 }],
      routes: [{ dst: "192.168.0.0/16" }],
    };
    const merged = mergeChained(prev, result);
    assert.deepEqual(
      merged.interfaces?.map((i) => i.name),
      ["a", "b", "fw1234", "eth0"],
    );
    assert.deepEqual(
      merged.ips?.map((ip) => ip.interface),
      [1, 3, 3],
    );
    assert.deepEqual(
      merged.routes?.map((r) => r.dst),
      ["192.168.0.0/16", "0.0.0.0/0"],
    );
    assert.deepEqual(merged.dns, result.dns, "DNS from Fairway when the previous plugin set none");
  });
});

describe("versions", () => {
  test("VERSION output", () => {
    assert.equal(
      versionOutput(),
      '{"cniVersion":"1.1.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}\n',
    );
  });

  test("compare", () => {
    assert.ok(compareVersions("0.4.0", "1.0.0") < 0);
    assert.ok(compareVersions("1.1.0", "1.0.0") > 0);
    assert.equal(compareVersions("0.3.1", "0.3.1"), 0);
  });

  test("code 1 for versions Fairway does not speak and for commands a version lacks", () => {
    const err = (v: string, c: "ADD" | "CHECK" | "GC" | "STATUS") => {
      try {
        checkVersion(v, c);
        return "ok";
      } catch (e) {
        assert.ok(e instanceof CniError);
        return `${e.code} ${e.message}`;
      }
    };
    assert.equal(err("1.1.0", "ADD"), "ok");
    assert.equal(err("0.3.0", "ADD"), "ok");
    assert.equal(
      err("0.2.0", "ADD"),
      '1 incompatible CNI versions: config is "0.2.0", plugin supports 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0',
    );
    assert.match(err("2.0.0", "ADD"), /^1 /);
    assert.match(err("banana", "ADD"), /^1 /);
    assert.equal(
      err("0.3.1", "CHECK"),
      '1 config version "0.3.1" does not allow CHECK (needs 0.4.0 or later)',
    );
    assert.equal(
      err("1.0.0", "GC"),
      '1 config version "1.0.0" does not allow GC (needs 1.1.0 or later)',
    );
    assert.equal(
      err("1.0.0", "STATUS"),
      '1 config version "1.0.0" does not allow STATUS (needs 1.1.0 or later)',
    );
  });
});
