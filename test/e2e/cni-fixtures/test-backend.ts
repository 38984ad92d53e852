// TEST DOUBLE — not Fairway's backend. A real, in-process CniBackend for the
// agent's e2e tests while the production one (IPAM + endpoint plumbing, module
// "endpoint") is being built elsewhere. It allocates IPv4 addresses from the
// configured pod CIDRs in memory and creates no interfaces. Nothing under src/
// may import it.

import { existsSync } from "node:fs";
import type { AgentConfig } from "../../../src/agent/config.ts";
import {
  AGENT_ERRORS,
  type CniBackend,
  type CniGcRequest,
  type CniRequest,
  type CniResult,
  type CniStatus,
  type EndpointReader,
  type EndpointRecord,
  type ReadinessReporter,
} from "../../../src/base/api.ts";
import { FairwayError } from "../../../src/base/errors.ts";
import type { Logger } from "../../../src/base/log.ts";
import type { ModuleDecl } from "../../../src/base/module.ts";

export interface TestBackendConfig {
  podCIDRs: readonly string[];
  mtu: number;
}

interface Pool {
  base: number;
  prefix: number;
  size: number;
  used: Set<number>;
}

interface Attachment {
  record: EndpointRecord;
  pool: Pool;
  offset: number;
  result: CniResult;
}

export class TestBackend implements CniBackend, EndpointReader, ReadinessReporter {
  private readonly pools: Pool[];
  private readonly attachments = new Map<string, Attachment>();
  started = false;

  constructor(
    private readonly config: TestBackendConfig,
    private readonly log: Logger,
  ) {
    this.pools = config.podCIDRs.filter((c) => !c.includes(":")).map(parsePool);
  }

  async start(): Promise<void> {
    this.started = true;
  }

  /** Like the real one: releases process resources only; attachments (pod networking) stay. */
  async stop(): Promise<void> {
    this.log.info(
      { attachments: this.attachments.size },
      "test backend stopped; attachments left in place",
    );
  }

  readiness(): { ready: boolean; reason?: string } {
    return this.pools.length > 0
      ? { ready: true }
      : { ready: false, reason: "no IPv4 pod CIDR configured" };
  }

  async status(): Promise<CniStatus> {
    return this.readiness();
  }

  async add(req: CniRequest): Promise<CniResult> {
    const key = keyOf(req);
    const existing = this.attachments.get(key);
    if (existing) return existing.result;
    if (!req.netns || !existsSync(req.netns)) {
      throw new FairwayError(
        AGENT_ERRORS.netnsNotFound,
        `network namespace ${req.netns} does not exist`,
        { details: { netns: req.netns } },
      );
    }
    for (const a of this.attachments.values()) {
      if (a.record.netns === req.netns && a.record.ifname === req.ifname) {
        throw new FairwayError(
          AGENT_ERRORS.ifnameTaken,
          `interface ${req.ifname} already exists in ${req.netns}`,
          {
            details: { ifname: req.ifname, owner: a.record.containerId },
          },
        );
      }
    }
    const { pool, offset } = this.allocate();
    const address = `${ipText(pool.base + offset)}/${pool.prefix}`;
    const gateway = ipText(pool.base + 1);
    const mac = macFor(key);
    const result: CniResult = {
      cniVersion: "1.1.0",
      interfaces: [
        { name: `fw${hash(key).toString(16).slice(0, 8)}`, mac: macFor(`host/${key}`) },
        { name: req.ifname, mac, mtu: req.mtu ?? this.config.mtu, sandbox: req.netns },
      ],
      ips: [{ address, gateway, interface: 1 }],
      routes: [{ dst: "0.0.0.0/0", gw: gateway }],
      ...(req.dns ? { dns: req.dns } : {}),
    };
    const record: EndpointRecord = {
      id: `${req.containerId}:${req.ifname}`,
      network: req.network,
      containerId: req.containerId,
      ifname: req.ifname,
      netns: req.netns,
      ...(req.pod ? { pod: req.pod } : {}),
      ips: [address],
      hostIfname: result.interfaces![0]!.name,
      state: "ready",
      createdAt: new Date().toISOString(),
    };
    this.attachments.set(key, { record, pool, offset, result });
    return result;
  }

  async del(req: CniRequest): Promise<void> {
    const key = keyOf(req);
    const a = this.attachments.get(key);
    if (!a) return; // idempotent
    a.pool.used.delete(a.offset);
    this.attachments.delete(key);
  }

  async check(req: CniRequest): Promise<void> {
    const a = this.attachments.get(keyOf(req));
    if (!a)
      throw new FairwayError(
        AGENT_ERRORS.containerUnknown,
        `no attachment ${req.containerId}/${req.ifname}`,
      );
    const expected = a.record.ips[0]!;
    const listed = (req.prevResult?.ips ?? []).map((ip) => ip.address);
    if (!listed.includes(expected)) {
      throw new FairwayError(
        AGENT_ERRORS.checkFailed,
        `address ${expected} of ${req.containerId} is not in prevResult`,
        {
          details: { expected, listed },
        },
      );
    }
  }

  async gc(req: CniGcRequest): Promise<void> {
    const valid = new Set(req.validAttachments.map((v) => keyOf({ network: req.network, ...v })));
    for (const [key, a] of this.attachments) {
      if (a.record.network === req.network && !valid.has(key))
        await this.del({ ...a.record, cniVersion: "1.1.0", args: {} });
    }
  }

  async listEndpoints(): Promise<EndpointRecord[]> {
    return [...this.attachments.values()].map((a) => a.record);
  }

  async getEndpoint(id: string): Promise<EndpointRecord | undefined> {
    return [...this.attachments.values()].find((a) => a.record.id === id)?.record;
  }

  private allocate(): { pool: Pool; offset: number } {
    for (const pool of this.pools) {
      // skip the network address, the gateway (.1) and the broadcast address
      for (let offset = 2; offset < pool.size - 1; offset++) {
        if (!pool.used.has(offset)) {
          pool.used.add(offset);
          return { pool, offset };
        }
      }
    }
    throw new FairwayError(
      AGENT_ERRORS.ipamExhausted,
      `no free address in ${this.config.podCIDRs.join(", ")}`,
      {
        details: { podCIDRs: this.config.podCIDRs },
      },
    );
  }
}

export const testEndpointModule: ModuleDecl<TestBackendConfig, TestBackend> = {
  id: "endpoint",
  deps: [],
  config(agentConfig) {
    const c = agentConfig as AgentConfig;
    return { podCIDRs: c.ipam.podCIDRs, mtu: c.mtu ?? 1500 };
  },
  create({ config, log }) {
    return new TestBackend(config, log);
  },
};

function keyOf(a: { network: string; containerId: string; ifname: string }): string {
  return `${a.network}/${a.containerId}/${a.ifname}`;
}

function parsePool(cidr: string): Pool {
  const [ip, prefix] = cidr.split("/") as [string, string];
  const base = ip.split(".").reduce((acc, p) => acc * 256 + Number(p), 0);
  return { base, prefix: Number(prefix), size: 2 ** (32 - Number(prefix)), used: new Set() };
}

function ipText(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
  return h;
}

function macFor(text: string): string {
  const h = hash(text);
  const bytes = [0x02, 0xfa, (h >>> 24) & 255, (h >>> 16) & 255, (h >>> 8) & 255, h & 255];
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}
