import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CniError } from "../../src/base/cni/errors.ts";
import { parseNetConf } from "../../src/base/cni/netconf.ts";

function fails(input: unknown): { code: number; msg: string } {
  try {
    parseNetConf(typeof input === "string" ? input : JSON.stringify(input));
  } catch (err) {
    assert.ok(err instanceof CniError, String(err));
    return { code: err.code, msg: err.message };
  }
  assert.fail("expected a CniError");
}

const base = { cniVersion: "1.1.0", name: "fairway", type: "fairway-cni" };

describe("network configuration", () => {
  test("a minimal config gets the default agent socket", () => {
    assert.deepEqual(parseNetConf(JSON.stringify(base)), {
      ...base,
      agentSocket: "/run/fairway/agent.sock",
    });
  });

  test("every known field is read", () => {
    const conf = parseNetConf(
      JSON.stringify({
        ...base,
        agentSocket: "/tmp/a.sock",
        mtu: 9001,
        runtimeConfig: { portMappings: [] },
        prevResult: { cniVersion: "1.1.0" },
        args: { cni: { ips: ["10.0.0.5"] } },
        capabilities: { portMappings: true },
        dns: {
          nameservers: ["10.96.0.10"],
          domain: "cluster.local",
          search: ["svc.cluster.local"],
          options: ["ndots:5"],
        },
        "cni.dev/valid-attachments": [{ containerID: "c1", ifname: "eth0" }],
        "cni.dev/attachments": [{ containerID: "other", ifname: "eth0" }],
        "cni.dev/future-thing": 1,
      }),
    );
    assert.equal(conf.agentSocket, "/tmp/a.sock");
    assert.equal(conf.mtu, 9001);
    assert.deepEqual(
      conf.validAttachments,
      [{ containerId: "c1", ifname: "eth0" }],
      "the spec's key wins over the alias",
    );
    assert.deepEqual(conf.dns?.nameservers, ["10.96.0.10"]);
  });

  test("not JSON, empty, or not an object: code 6", () => {
    assert.deepEqual(fails(""), {
      code: 6,
      msg: "failed to decode network configuration: stdin is empty",
    });
    assert.equal(fails("{").code, 6);
    assert.match(fails("{").msg, /^failed to decode network configuration: /);
    assert.deepEqual(fails("[1]"), {
      code: 6,
      msg: "network configuration must be a JSON object, got [1]",
    });
  });

  test("missing or mistyped known fields: code 7, all named at once", () => {
    assert.deepEqual(fails({ type: "fairway-cni" }), {
      code: 7,
      msg: "invalid network configuration: cniVersion: required; name: required",
    });
    assert.deepEqual(
      fails({ ...base, mtu: "1500", agentSocket: "relative.sock", runtimeConfig: [] }),
      {
        code: 7,
        msg:
          'invalid network configuration: mtu: must be an integer from 68 to 65535, got "1500"; ' +
          'agentSocket: must be an absolute path, got "relative.sock"; runtimeConfig: must be an object, got []',
      },
    );
    assert.equal(fails({ ...base, name: "bad name" }).code, 7);
    assert.match(
      fails({ ...base, dns: { nameservers: "10.0.0.1" } }).msg,
      /dns: nameservers must be a list of strings/,
    );
    assert.match(
      fails({ ...base, dns: { resolver: [] } }).msg,
      /dns: resolver is not a DNS setting/,
    );
    assert.match(
      fails({ ...base, capabilities: { portMappings: "yes" } }).msg,
      /capabilities: must be an object of booleans/,
    );
    assert.match(
      fails({ ...base, "cni.dev/valid-attachments": [{ containerId: "x" }] }).msg,
      /cni.dev\/valid-attachments: \[0\] must be \{"containerID": string, "ifname": string\}/,
    );
  });

  test("unsupported fields: code 2, naming key and value", () => {
    assert.deepEqual(fails({ ...base, bridge: "cni0" }), {
      code: 2,
      msg: 'unsupported field: bridge="cni0": not a field of the fairway-cni plugin',
    });
    assert.deepEqual(fails({ ...base, ipam: { type: "host-local" }, ipMasq: true }), {
      code: 2,
      msg:
        'unsupported fields: ipam={"type":"host-local"}: Fairway allocates addresses in its agent; remove the ipam section; ' +
        "ipMasq=true: masquerading is configured on the agent, not per network",
    });
  });

  test("type errors take precedence over unsupported fields", () => {
    assert.equal(fails({ ...base, bridge: "cni0", mtu: -1 }).code, 7);
  });
});
