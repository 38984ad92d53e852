import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  interfaceNameProblem,
  parseCniArgs,
  parseEnv,
  podFromArgs,
} from "../../src/base/cni/env.ts";
import { CniError } from "../../src/base/cni/errors.ts";

function code(fn: () => unknown): { code: number; msg: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CniError, String(err));
    return { code: err.code, msg: err.message };
  }
  assert.fail("expected a CniError");
}

const full = { CNI_CONTAINERID: "abc123", CNI_NETNS: "/var/run/netns/x", CNI_IFNAME: "eth0" };

describe("CNI environment", () => {
  test("each command requires its variables; the message names the missing ones (code 4)", () => {
    assert.deepEqual(
      code(() => parseEnv({})),
      { code: 4, msg: "required env variables [CNI_COMMAND] missing" },
    );
    assert.deepEqual(
      code(() => parseEnv({ CNI_COMMAND: "ADD" })),
      {
        code: 4,
        msg: "required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME] missing",
      },
    );
    assert.equal(
      code(() => parseEnv({ CNI_COMMAND: "CHECK", CNI_CONTAINERID: "a", CNI_IFNAME: "eth0" })).msg,
      "required env variables [CNI_NETNS] missing",
    );
    assert.equal(
      code(() => parseEnv({ CNI_COMMAND: "DEL", CNI_CONTAINERID: "a" })).msg,
      "required env variables [CNI_IFNAME] missing",
    );
    assert.deepEqual(
      code(() => parseEnv({ CNI_COMMAND: "FROB" })),
      {
        code: 4,
        msg: 'CNI_COMMAND: unknown command "FROB" (expected one of ADD, DEL, CHECK, VERSION, GC, STATUS)',
      },
    );
  });

  test("DEL needs no netns; VERSION, GC and STATUS need nothing", () => {
    assert.deepEqual(parseEnv({ CNI_COMMAND: "DEL", CNI_CONTAINERID: "a", CNI_IFNAME: "eth0" }), {
      command: "DEL",
      containerId: "a",
      ifname: "eth0",
      args: {},
      path: [],
    });
    for (const c of ["VERSION", "GC", "STATUS"])
      assert.equal(parseEnv({ CNI_COMMAND: c }).command, c);
  });

  test("full ADD environment", () => {
    assert.deepEqual(
      parseEnv({
        CNI_COMMAND: "ADD",
        ...full,
        CNI_PATH: "/opt/cni/bin:/usr/lib/cni",
        CNI_ARGS: "IgnoreUnknown=1;FOO=bar",
      }),
      {
        command: "ADD",
        ...{ containerId: "abc123", netns: "/var/run/netns/x", ifname: "eth0" },
        args: { IgnoreUnknown: "1", FOO: "bar" },
        path: ["/opt/cni/bin", "/usr/lib/cni"],
      },
    );
  });

  test("container id and interface name follow the spec's rules", () => {
    assert.match(
      code(() => parseEnv({ CNI_COMMAND: "ADD", ...full, CNI_CONTAINERID: "-bad" })).msg,
      /^CNI_CONTAINERID: "-bad" must start/,
    );
    assert.match(
      code(() => parseEnv({ CNI_COMMAND: "ADD", ...full, CNI_CONTAINERID: "a b" })).msg,
      /CNI_CONTAINERID/,
    );
    assert.equal(
      code(() => parseEnv({ CNI_COMMAND: "ADD", ...full, CNI_IFNAME: "eth0:1" })).msg,
      'CNI_IFNAME: "eth0:1" must not contain /, : or whitespace',
    );
    assert.equal(interfaceNameProblem("0123456789abcdef"), "is longer than 15 characters");
    assert.equal(interfaceNameProblem(".."), 'must not be "." or ".."');
    assert.equal(interfaceNameProblem("0123456789abcde"), undefined);
  });
});

describe("CNI_ARGS", () => {
  test("pairs, empty pairs, values with =, kubelet's pod keys", () => {
    assert.deepEqual(
      parseCniArgs(
        "IgnoreUnknown=1;K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=coredns-1;;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-1;X=a=b;",
      ),
      {
        IgnoreUnknown: "1",
        K8S_POD_NAMESPACE: "kube-system",
        K8S_POD_NAME: "coredns-1",
        K8S_POD_INFRA_CONTAINER_ID: "abc",
        K8S_POD_UID: "u-1",
        X: "a=b",
      },
    );
    assert.deepEqual(parseCniArgs(""), {});
  });

  test("unknown keys need IgnoreUnknown, as in libcni", () => {
    assert.deepEqual(
      code(() => parseCniArgs("K8S_POD_NAME=x;FOO=1;BAR=2")),
      {
        code: 4,
        msg: "CNI_ARGS: unknown arguments FOO, BAR (pass IgnoreUnknown=1 to allow)",
      },
    );
    assert.equal(code(() => parseCniArgs("IgnoreUnknown=0;FOO=1")).code, 4);
    assert.deepEqual(parseCniArgs("IgnoreUnknown=true;FOO=1"), { IgnoreUnknown: "true", FOO: "1" });
    assert.deepEqual(parseCniArgs("K8S_POD_NAME=x"), { K8S_POD_NAME: "x" });
  });

  test("malformed pairs and IgnoreUnknown values", () => {
    assert.deepEqual(
      code(() => parseCniArgs("IgnoreUnknown=1;novalue")),
      { code: 4, msg: 'CNI_ARGS: "novalue" is not a KEY=VALUE pair' },
    );
    assert.equal(code(() => parseCniArgs("=x")).msg, 'CNI_ARGS: "=x" is not a KEY=VALUE pair');
    assert.equal(
      code(() => parseCniArgs("IgnoreUnknown=maybe")).msg,
      'CNI_ARGS: IgnoreUnknown must be 1/true or 0/false, got "maybe"',
    );
  });

  test("the pod comes from namespace and name", () => {
    assert.deepEqual(
      podFromArgs({ K8S_POD_NAMESPACE: "ns", K8S_POD_NAME: "p", K8S_POD_INFRA_CONTAINER_ID: "c" }),
      {
        namespace: "ns",
        name: "p",
        infraContainerId: "c",
      },
    );
    assert.equal(podFromArgs({ K8S_POD_NAME: "p" }), undefined);
  });
});
