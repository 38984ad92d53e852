// One engine, at the lookup level: bpf/lib/policy.h's verdict (ipcache LPM +
// two policy LPM lookups, run in the kernel with BPF_PROG_TEST_RUN through
// test/fixtures/bpf/policy_test.c) against the conformance suite. For every
// case, every pod's ingress and egress entries from buildPolicyState() are
// written to the fixture's maps, every pod -> pod packet on 80/81 TCP/UDP is
// judged by the kernel as the source's egress and the destination's ingress,
// and the two must agree with evaluate() flow by flow and, combined, with the
// case's expected matrix. (Pods reaching themselves are left out: the
// datapath never sees those flows.) Enforcement on real pods comes with the
// policy datapath.
import assert from "node:assert/strict";
import { test } from "node:test";
import type {
  FairwayClusterwideNetworkPolicy,
  FairwayNetworkPolicy,
  KubeObject,
  NetworkPolicy,
} from "../../src/cluster/index.ts";
import { BpfObject, type BpfProgram, testRun } from "../../src/datapath/index.ts";
import { loadNative } from "../../src/datapath/native/binding.ts";
import { parseIp } from "../../src/datapath/net/index.ts";
import {
  buildPolicyState,
  type DirectionPolicy,
  evaluate,
  type PolicyInput,
} from "../../src/policy/index.ts";
import {
  buildModel,
  CONFORMANCE_CASES,
  type ConformanceCase,
  expectedMatrices,
  PODS,
  PORTS,
  PROTOCOLS,
} from "../fixtures/policy/index.ts";
import { bpfObject, requireRoot } from "../harness/index.ts";
import { ipv4Packet } from "../harness/packets.ts";

requireRoot();
const b = loadNative();

const VERDICT = { allow: 1, deny: 2 } as const;
const KIND = { "L3-only": 1, "L3+L4": 2, "L4-only": 3, all: 4 } as const;

function input(c: ConformanceCase): { input: PolicyInput; ip: (pod: string) => string } {
  const model = buildModel(c.model ?? {});
  const policies = c.policies(model);
  const of = <T extends KubeObject>(kind: string) => policies.filter((p) => p.kind === kind) as T[];
  return {
    input: {
      pods: model.pods,
      namespaces: model.namespaces,
      networkPolicies: of<NetworkPolicy>("NetworkPolicy"),
      fairwayPolicies: of<FairwayNetworkPolicy>("FairwayNetworkPolicy"),
      clusterwidePolicies: of<FairwayClusterwideNetworkPolicy>("FairwayClusterwideNetworkPolicy"),
    },
    ip: (pod) => model.ip(pod),
  };
}

/** The fixture loaded for one direction, with its maps' fds. */
interface Judge {
  prog: BpfProgram;
  ipcache: number;
  policy: number;
  isolated: number;
}

function loadJudge(egress: boolean, objs: BpfObject[]): Judge {
  const path = bpfObject("policy_test", "test");
  const obj = BpfObject.load(path, { globals: { cfg_egress: new Uint8Array([egress ? 1 : 0]) } });
  objs.push(obj);
  return {
    prog: obj.program("policy_test"),
    ipcache: obj.map("fw_test_ipcache").fd,
    policy: obj.map("fw_test_policy").fd,
    isolated: obj.map("fw_test_isolated").fd,
  };
}

function clear(fd: number, keySize: number): void {
  const next = new Uint8Array(keySize);
  while (b.mapNextKey(fd, null, next)) b.mapDelete(fd, next);
}

function writeIpcache(j: Judge, entries: readonly { prefix: string; identity: number }[]): void {
  clear(j.ipcache, 24);
  for (const e of entries) {
    const [addr, len] = e.prefix.split("/") as [string, string];
    const parsed = parseIp(addr);
    const key = Buffer.alloc(24);
    key.writeUInt32LE(32 + Number(len), 0); // family + padding, then the prefix
    key.writeUInt8(parsed.family === 6 ? 6 : 4, 4);
    parsed.bytes.copy(key, 8);
    const value = Buffer.alloc(4);
    value.writeUInt32LE(e.identity, 0);
    b.mapUpdate(j.ipcache, key, value, 0);
  }
}

function writePolicy(j: Judge, dp: DirectionPolicy, egress: boolean): void {
  clear(j.policy, 12);
  for (const e of dp.entries) {
    const key = Buffer.alloc(12);
    key.writeUInt32LE(e.protocol === 0 ? 40 : 48 + e.portPrefixLen, 0);
    key.writeUInt32LE(e.identity, 4);
    key.writeUInt8(egress ? 1 : 0, 8);
    key.writeUInt8(e.protocol, 9);
    key.writeUInt16BE(e.port, 10);
    const value = Buffer.alloc(8);
    value.writeUInt8(VERDICT[e.verdict], 0);
    value.writeUInt8(KIND[e.kind], 1);
    b.mapUpdate(j.policy, key, value, 0);
  }
  const iso = Buffer.alloc(4);
  iso.writeUInt32LE(dp.isolated ? 1 : 0, 0);
  b.mapUpdate(j.isolated, Buffer.alloc(4), iso, 0);
}

function kernelAllows(
  j: Judge,
  src: string,
  dst: string,
  protocol: "TCP" | "UDP",
  port: number,
): boolean {
  const data = ipv4Packet({
    src,
    dst,
    proto: protocol === "TCP" ? "tcp" : "udp",
    sport: 40_000,
    dport: port,
  });
  const r = testRun(j.prog, { data });
  assert.ok(r.retval === 1 || r.retval === 2, `policy_test returned ${r.retval}`);
  return r.retval === 1;
}

test("the kernel's policy lookups agree with evaluate() and the expected matrices on every conformance case", (t) => {
  const objs: BpfObject[] = [];
  t.after(() => {
    for (const o of objs) o.close();
  });
  const ingress = loadJudge(false, objs);
  const egress = loadJudge(true, objs);
  let flows = 0;
  const failures: string[] = [];
  for (const c of CONFORMANCE_CASES) {
    const { input: inp, ip } = input(c);
    const state = buildPolicyState(inp);
    const idOf = new Map(state.ipcache.entries.map((e) => [e.prefix, e.identity]));
    writeIpcache(ingress, state.ipcache.entries);
    writeIpcache(egress, state.ipcache.entries);
    // verdict[direction][src][dst][port/proto]
    const got = new Map<string, boolean>();
    for (const pod of PODS) {
      const ep = state.endpoints.get(pod);
      assert.ok(ep, `${c.name}: endpoint ${pod}`);
      writePolicy(ingress, ep.ingress, false);
      writePolicy(egress, ep.egress, true);
      for (const peer of PODS) {
        if (peer === pod) continue;
        const peerIdentity = idOf.get(`${ip(peer)}/32`) ?? 2;
        for (const port of PORTS) {
          for (const protocol of PROTOCOLS) {
            // pod as the destination: its ingress; pod as the source: its egress.
            const inK = kernelAllows(ingress, ip(peer), ip(pod), protocol, port);
            const outK = kernelAllows(egress, ip(pod), ip(peer), protocol, port);
            const inE = evaluate(ep, {
              direction: "ingress",
              identity: peerIdentity,
              protocol,
              port,
            });
            const outE = evaluate(ep, {
              direction: "egress",
              identity: peerIdentity,
              protocol,
              port,
            });
            flows += 2;
            if (inK !== inE.allowed)
              failures.push(
                `${c.name}: ingress of ${pod} from ${peer} ${port}/${protocol}: kernel ${inK}, evaluate ${inE.allowed}`,
              );
            if (outK !== outE.allowed)
              failures.push(
                `${c.name}: egress of ${pod} to ${peer} ${port}/${protocol}: kernel ${outK}, evaluate ${outE.allowed}`,
              );
            got.set(`in ${peer} ${pod} ${port}/${protocol}`, inK);
            got.set(`out ${pod} ${peer} ${port}/${protocol}`, outK);
          }
        }
      }
    }
    // Combined, the kernel's verdicts are the case's expected matrix.
    const want = expectedMatrices(c.expect);
    for (const port of PORTS) {
      for (const protocol of PROTOCOLS) {
        const rows = want.get(`${port}/${protocol}`)!;
        PODS.forEach((from, i) => {
          PODS.forEach((to, k) => {
            if (from === to) return;
            const allowed =
              got.get(`out ${from} ${to} ${port}/${protocol}`)! &&
              got.get(`in ${from} ${to} ${port}/${protocol}`)!;
            if (allowed !== rows[i]![k])
              failures.push(
                `${c.name}: ${from} -> ${to} ${port}/${protocol}: kernel ${allowed}, expected ${rows[i]![k]}`,
              );
          });
        });
      }
    }
  }
  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} disagreements`);
  assert.ok(flows > 40 * 9 * 8 * 4, `${flows} flows judged`);
});
