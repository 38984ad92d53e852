// The agent: owns the module graph, the API socket and the queued DELs.
//
//   start: claim the socket path (refuse if another agent answers) -> listen
//          (healthz answers, CNI gets "not ready") -> start modules in order ->
//          serve CNI -> replay queued DELs
//   stop:  stop serving CNI -> close the socket (in-flight requests finish) ->
//          stop modules in reverse -> remove the socket file
//
// Stopping never tears down pod networking: the datapath (pinned maps, attached
// programs, links, routes) stays in place so pods keep their traffic while the
// agent restarts or upgrades.

import type { Server } from "node:http";
import { release } from "node:os";
import { join } from "node:path";
import {
  type AgentStatus,
  type CniBackend,
  DEL_QUEUE_DIR,
  type EndpointReader,
  type ModuleStatus,
  type StatusReporter,
} from "../base/api.ts";
import { BugError } from "../base/errors.ts";
import type { Logger } from "../base/log.ts";
import type { AnyModuleDecl } from "../base/module.ts";
import { detectFeatures, type Feature } from "../datapath/features.ts";
import { createApiServer, createDispatch, type Dispatch } from "./api-server.ts";
import { cniExecRoute } from "./cni-exec.ts";
import { attachmentKey, cniRoutes, cniStatus } from "./cni-routes.ts";
import { type AgentConfig, socketPath } from "./config.ts";
import { DelQueue } from "./del-queue.ts";
import { ModuleGraph } from "./graph.ts";
import { KeyedLock } from "./keyed-lock.ts";
import { statusRoutes } from "./routes.ts";
import { SERVICE_MODULE_ID, serviceRoutes, serviceStatusSource } from "./service-routes.ts";
import { claimSocketPath, listenUnix, releaseSocketPath, type SocketIdentity } from "./socket.ts";

/** The module whose instance is the CniBackend (and EndpointReader). */
export const BACKEND_MODULE_ID = "endpoint";
const DRAIN_INTERVAL_MS = 30_000;
const IN_FLIGHT_GRACE_MS = 10_000;

export type AgentPhase = "created" | "starting" | "running" | "stopping" | "stopped";

export interface AgentOptions {
  config: AgentConfig;
  log: Logger;
  modules: readonly AnyModuleDecl[];
  version: string;
}

export class Agent {
  phase: AgentPhase = "created";
  readonly socket: string;
  private readonly graph: ModuleGraph;
  private readonly backend: CniBackend | undefined;
  private readonly queue: DelQueue;
  private readonly locks = new KeyedLock();
  private readonly server: Server;
  private socketFile: SocketIdentity | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
  private draining: Promise<unknown> = Promise.resolve();
  private readonly startedAt = new Date();
  private featureCache: Feature[] | undefined;

  /** Builds the graph (config slices + create, no I/O). Throws ConfigError on bad module config. */
  constructor(private readonly options: AgentOptions) {
    const { config, log } = options;
    this.socket = socketPath(config);
    this.graph = ModuleGraph.create(options.modules, config, log);
    const candidate = this.graph.instance(BACKEND_MODULE_ID);
    if (candidate !== undefined && !isCniBackend(candidate)) {
      throw new BugError(
        `module "${BACKEND_MODULE_ID}" does not implement CniBackend (add, del, check, gc, status)`,
      );
    }
    this.backend = candidate;
    this.queue = new DelQueue(join(config.runDir, DEL_QUEUE_DIR));
    const endpoints = isEndpointReader(candidate) ? candidate : undefined;
    const routes = [
      ...statusRoutes({
        readiness: () => this.readiness(),
        status: () => this.status(),
        endpoints,
      }),
      ...serviceRoutes(serviceStatusSource(this.graph.instance(SERVICE_MODULE_ID))),
      ...cniRoutes({
        backend: this.backend,
        serving: () =>
          this.phase === "running"
            ? { ready: true }
            : { ready: false, reason: `agent is ${this.phase}` },
        readiness: () => this.moduleReadiness(),
        queue: this.queue,
        locks: this.locks,
        log: log.child({ subsys: "cni-api" }),
      }),
    ];
    // The exec route runs the plugin in-process, calling back into this same table.
    const dispatch: Dispatch = createDispatch(
      [...routes, cniExecRoute((method, path, body) => dispatch(method, path, body))],
      log.child({ subsys: "api" }),
    );
    this.server = createApiServer(dispatch, log.child({ subsys: "api" }));
  }

  moduleIds(): string[] {
    return this.graph.ids();
  }

  async start(): Promise<void> {
    const { log } = this.options;
    this.phase = "starting";
    await claimSocketPath(this.socket, log);
    this.socketFile = await listenUnix(this.server, this.socket);
    log.info({ socket: this.socket }, "API listening");
    try {
      await this.graph.start(log);
    } catch (err) {
      await this.closeServer();
      this.phase = "stopped";
      throw err;
    }
    this.phase = "running";
    this.drainQueue();
    this.drainTimer = setInterval(() => this.drainQueue(), DRAIN_INTERVAL_MS);
    this.drainTimer.unref();
    log.info({ modules: this.graph.ids(), backend: this.backend !== undefined }, "agent running");
  }

  /** Returns the stop failures (empty when everything released cleanly). */
  async stop(): Promise<Error[]> {
    const { log } = this.options;
    if (this.phase === "stopping" || this.phase === "stopped") return [];
    this.phase = "stopping";
    clearInterval(this.drainTimer);
    await this.closeServer();
    await this.draining;
    const failures = await this.graph.stop(log);
    this.phase = "stopped";
    log.info({ failures: failures.length }, "agent stopped; datapath left in place");
    return failures;
  }

  private async closeServer(): Promise<void> {
    if (!this.socketFile) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const grace = setTimeout(() => this.server.closeAllConnections(), IN_FLIGHT_GRACE_MS);
    await closed;
    clearTimeout(grace);
    releaseSocketPath(this.socket, this.socketFile);
    this.socketFile = undefined;
  }

  private drainQueue(): void {
    const backend = this.backend;
    if (!backend || this.phase !== "running" || this.queue.list().length === 0) return;
    const log = this.options.log.child({ subsys: "cni-api" });
    this.draining = this.draining
      .then(() =>
        this.queue.drain((req) => this.locks.run(attachmentKey(req), () => backend.del(req)), log),
      )
      .catch((err) => log.error({ err }, "replaying queued DELs failed"));
  }

  private moduleReadiness(): { ready: boolean; reason?: string } {
    if (this.phase !== "running") return { ready: false, reason: `agent is ${this.phase}` };
    return this.graph.readiness();
  }

  async readiness(): Promise<{ ready: boolean; reason?: string }> {
    const modules = this.moduleReadiness();
    if (!modules.ready) return modules;
    const cni = await cniStatus({ backend: this.backend, readiness: () => modules });
    return cni.ready
      ? { ready: true }
      : { ready: false, reason: cni.reason ?? "CNI backend not ready" };
  }

  async status(): Promise<AgentStatus> {
    const { config, version } = this.options;
    const ready = await this.readiness();
    return {
      nodeName: config.nodeName,
      version,
      pid: process.pid,
      startedAt: this.startedAt.toISOString(),
      uptimeSeconds: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
      ready: ready.ready,
      ...(ready.reason === undefined ? {} : { reason: ready.reason }),
      socket: this.socket,
      datapathMode: config.datapath.mode,
      cniBackend: this.backend !== undefined,
      kernel: release(),
      kernelFeatures: this.features().map(({ name, state, neededFor, minKernel }) => ({
        name,
        state,
        neededFor,
        minKernel,
      })),
      modules: await this.moduleStatuses(),
    };
  }

  /** Kernel features, detected once per agent process. */
  private features(): Feature[] {
    this.featureCache ??= detectFeatures();
    return this.featureCache;
  }

  /** Module states plus what each StatusReporter says; a failing reporter is shown, not fatal. */
  private async moduleStatuses(): Promise<ModuleStatus[]> {
    return Promise.all(
      this.graph.statuses().map(async (s) => {
        const instance = s.state === "started" ? this.graph.instance(s.id) : undefined;
        if (!isStatusReporter(instance)) return s;
        try {
          return { ...s, details: await instance.statusDetails() };
        } catch (err) {
          return { ...s, details: { error: err instanceof Error ? err.message : String(err) } };
        }
      }),
    );
  }
}

function isStatusReporter(value: unknown): value is StatusReporter {
  return typeof (value as Partial<StatusReporter> | undefined)?.statusDetails === "function";
}

function isCniBackend(value: unknown): value is CniBackend {
  const v = value as Partial<Record<keyof CniBackend, unknown>> | undefined;
  return (["add", "del", "check", "gc", "status"] as const).every(
    (m) => typeof v?.[m] === "function",
  );
}

function isEndpointReader(value: unknown): value is EndpointReader {
  const v = value as Partial<Record<keyof EndpointReader, unknown>> | undefined;
  return typeof v?.listEndpoints === "function" && typeof v.getEndpoint === "function";
}
