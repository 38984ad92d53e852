// `fairway demo`: the connectivity demo of the foundation. Two network
// namespaces joined by a veth pair, Fairway's diag program on the receiving
// end's tc ingress, real ping and TCP traffic, and what the program saw, read
// back from its maps and ring buffer. Everything it creates is removed at the end.
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { FairwayError } from "../base/errors.ts";
import { ipAddrToString } from "../datapath/codec.ts";
import { config, maps, PacketEvent } from "../datapath/generated/diag.ts";
import {
  attachTc,
  BpfMap,
  BpfObject,
  bpfObjectPath,
  encodeGlobals,
  RingBuffer,
} from "../datapath/index.ts";
import {
  addAddress,
  closeNetlinkSockets,
  createNetns,
  createVeth,
  deleteNetns,
  setLinkUp,
} from "../datapath/net/index.ts";

const PROTOCOLS: Record<number, string> = { 1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6" };

function step(text: string): () => void {
  const t0 = performance.now();
  process.stdout.write(`  ${text} ... `);
  return () => process.stdout.write(`done (${(performance.now() - t0).toFixed(1)} ms)\n`);
}

function exec(ns: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("ip", ["netns", "exec", ns, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.on("exit", (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${args.join(" ")} failed: ${err.trim()}`)),
    );
    child.stdin.end(input ?? "");
  });
}

export async function runDemo(_args: string[]): Promise<number> {
  if (process.getuid?.() !== 0) {
    throw new FairwayError("E_NEEDS_ROOT", "the demo needs root: run it with sudo npm run demo");
  }
  const id = process.pid.toString(36);
  const nsA = `fwdemo-a-${id}`;
  const nsB = `fwdemo-b-${id}`;
  const pinRoot = `/sys/fs/bpf/fairway-demo-${id}`;
  const release: (() => unknown)[] = [];
  console.log("Fairway connectivity demo: pod A (10.250.0.1) <-veth-> pod B (10.250.0.2)\n");
  try {
    let done = step("creating two network namespaces and a veth pair (rtnetlink)");
    const a = await createNetns(nsA);
    release.push(() => deleteNetns(nsA, { ifExists: true }));
    const b = await createNetns(nsB);
    release.push(() => deleteNetns(nsB, { ifExists: true }));
    await createVeth(
      { name: "eth0", peerName: "eth0", peerNetns: b, up: true, peerUp: true },
      { netns: a },
    );
    await addAddress("eth0", "10.250.0.1/24", { netns: a });
    await addAddress("eth0", "10.250.0.2/24", { netns: b });
    await setLinkUp("lo", { netns: a });
    await setLinkUp("lo", { netns: b });
    done();

    done = step("loading diag.o and attaching diag_count to pod B's tc ingress");
    const obj = BpfObject.load(bpfObjectPath("diag"), {
      pinRoot,
      globals: encodeGlobals(config, { cfg_emit_events: 1 }),
    });
    release.push(() => rmSync(pinRoot, { recursive: true, force: true }));
    release.push(() => obj.close());
    const events: ReturnType<typeof PacketEvent.decode>[] = [];
    const ring = RingBuffer.open(obj.map("diag_events"), (batch) => {
      batch.forEach((r) => {
        events.push(PacketEvent.decode(r));
      });
    });
    release.push(() => ring.close());
    const tc = attachTc({
      program: obj.program("diag_count"),
      ifname: "eth0",
      netns: b,
      direction: "ingress",
    });
    release.push(() => tc.detach());
    done();

    done = step("ping A -> B, 3 echo requests");
    await exec(nsA, ["ping", "-c", "3", "-i", "0.2", "-W", "1", "10.250.0.2"]);
    done();

    done = step("TCP A -> B: one message through nc");
    const server = exec(nsB, ["nc", "-l", "-N", "10.250.0.2", "7000"]);
    for (let i = 0; ; i++) {
      try {
        await exec(nsA, ["nc", "-N", "-w", "2", "10.250.0.2", "7000"], "hello from pod A\n");
        break;
      } catch (err) {
        if (i > 50) throw err;
        await sleep(20);
      }
    }
    const received = await server;
    done();
    console.log(`  pod B received: ${JSON.stringify(received)}`);
    await sleep(50);

    const stats = BpfMap.of(obj.map("diag_proto_stats"), maps.diag_proto_stats);
    console.log("\nWhat diag_count counted at pod B's ingress (map diag_proto_stats):\n");
    console.log("  protocol   packets   bytes");
    for (const [key, value] of stats.entries()) {
      const name =
        key.family === 0
          ? `eth 0x${key.eth_proto.toString(16)}`
          : (PROTOCOLS[key.l4_proto] ?? `ip ${key.l4_proto}`);
      console.log(
        `  ${name.padEnd(10)} ${String(value.packets).padStart(7)} ${String(value.bytes).padStart(7)}`,
      );
    }
    console.log(`\nPer-packet events from the ring buffer: ${events.length}; the first three:`);
    for (const e of events.filter((x) => x.family === 4).slice(0, 3)) {
      const proto = PROTOCOLS[e.l4_proto] ?? e.l4_proto;
      console.log(
        `  ${ipAddrToString(e.saddr, 4)}:${e.sport} -> ${ipAddrToString(e.daddr, 4)}:${e.dport} ${proto} ${e.pkt_len} bytes`,
      );
    }
    console.log(
      "\nNext: `sudo npm test` runs the whole suite; docs/architecture.md explains the parts.",
    );
    return 0;
  } finally {
    for (const fn of release.reverse()) {
      try {
        await fn();
      } catch (err) {
        console.error(`cleanup: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    closeNetlinkSockets();
  }
}
