// The agent's local API: the protocol spoken over <runDir>/agent.sock by the CNI
// plugin, the CLI and the agent. HTTP/1.1 over a unix socket, JSON bodies.
// Errors travel as data: a non-2xx status with an ApiError body.
//
// This file is imported by the CNI plugin, which must stay tiny and start fast:
// it may import node: built-ins only (no pino, zod, yaml), and nothing from agent/.

import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** CNI spec versions the plugin speaks, oldest first; the last is the one the agent answers in. */
export const SUPPORTED_CNI_VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;
export const CURRENT_CNI_VERSION = "1.1.0";
/** The plugin's executable name, and so the `type` in network configurations. */
export const CNI_PLUGIN_TYPE = "fairway-cni";

export const DEFAULT_RUN_DIR = "/run/fairway";
export const DEFAULT_AGENT_SOCKET = `${DEFAULT_RUN_DIR}/agent.sock`;
/**
 * Directory (next to the socket) of DEL requests that could not reach the agent.
 * One JSON file per attachment, written atomically; the agent replays them once ready.
 */
export const DEL_QUEUE_DIR = "cni-del-queue";

/** One queued DEL: the file <dir>/<delQueueEntryName(request)>. */
export interface DelQueueEntry {
  queuedAt: string;
  /** who queued it: the plugin (agent unreachable) or the agent (not ready) */
  by: "plugin" | "agent";
  request: CniRequest;
}

/** File name of an attachment's queued DEL (container ids are filename-safe; ifnames may not be). */
export function delQueueEntryName(attachment: CniAttachment): string {
  return `${attachment.containerId}_${encodeURIComponent(attachment.ifname)}.json`;
}

/** Writes a queued DEL atomically (tmp file + rename) with mode 0600. Synchronous on purpose. */
export function writeDelQueueEntry(dir: string, entry: DelQueueEntry): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, delQueueEntryName(entry.request));
  const tmp = join(dir, `.${delQueueEntryName(entry.request)}.${process.pid}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
  return path;
}

/** Header of a /v1/cni/exec answer: the plugin's exit code (the body is its stdout). */
export const CNI_EXEC_EXIT_HEADER = "x-cni-exit-code";

export const ROUTES = {
  healthz: "/healthz",
  readyz: "/readyz",
  status: "/v1/status",
  cniAdd: "/v1/cni/add",
  cniDel: "/v1/cni/del",
  cniCheck: "/v1/cni/check",
  cniGc: "/v1/cni/gc",
  cniStatus: "/v1/cni/status",
  /** the whole plugin run in the agent, for the C front end: {env, stdin} -> stdout + exit code */
  cniExec: "/v1/cni/exec",
  endpoints: "/v1/endpoints",
  /** the service load-balancer table and what the datapath programmed (service/status.ts) */
  services: "/v1/services",
} as const;

// --- CNI result, spec 1.1.0 shape. The agent always answers in this shape; the
// plugin converts to the runtime's version.

export interface CniInterface {
  name: string;
  mac?: string;
  mtu?: number;
  /** netns path for container interfaces; absent for host interfaces */
  sandbox?: string;
  socketPath?: string;
  pciID?: string;
}

export interface CniIpConfig {
  /** address with prefix, e.g. "10.244.1.5/24" */
  address: string;
  gateway?: string;
  /** index into interfaces */
  interface?: number;
}

export interface CniRoute {
  dst: string;
  gw?: string;
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}

export interface CniDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIpConfig[];
  routes?: CniRoute[];
  dns?: CniDns;
}

// --- requests

export interface PodRef {
  namespace: string;
  name: string;
  /** K8S_POD_INFRA_CONTAINER_ID, when the runtime passes it */
  infraContainerId?: string;
  /** K8S_POD_UID, when the runtime passes it */
  uid?: string;
}

/** One attachment: CNI's primary key is (network, containerId, ifname). */
export interface CniAttachment {
  containerId: string;
  ifname: string;
}

/** ADD, DEL and CHECK. */
export interface CniRequest extends CniAttachment {
  /** network name from the network configuration */
  network: string;
  /** the runtime's cniVersion (the agent answers in 1.1.0 regardless) */
  cniVersion: string;
  /** netns path; always set on ADD and CHECK, may be absent on DEL */
  netns?: string;
  /** pod identity from CNI_ARGS (K8S_POD_NAMESPACE/K8S_POD_NAME) when present */
  pod?: PodRef;
  /** every CNI_ARGS pair, as given */
  args: Record<string, string>;
  /** the runtime's capability arguments (portMappings, ips, mac, bandwidth...) */
  runtimeConfig?: Record<string, unknown>;
  /** the config's `args` object (conventions: args.cni.ips...) */
  configArgs?: Record<string, unknown>;
  /** result of the previous plugin (chaining) or of ADD (DEL/CHECK), converted to 1.1.0 */
  prevResult?: CniResult;
  /** MTU asked for by the network configuration */
  mtu?: number;
  /** DNS settings from the network configuration, for the result */
  dns?: CniDns;
}

export interface CniGcRequest {
  network: string;
  cniVersion: string;
  /** attachments the runtime still uses; everything else of this network is stale */
  validAttachments: CniAttachment[];
}

export interface CniStatus {
  /** true when ADD can be served */
  ready: boolean;
  reason?: string;
  /** not ready, and existing pods may have limited connectivity (CNI code 51) */
  limitedConnectivity?: boolean;
}

/**
 * What the agent's CNI routes call. Implemented by the module with id "endpoint"
 * (IPAM + endpoint plumbing). Contract:
 *  - add: creates the attachment and returns a 1.1.0 result. Not called twice
 *    for one attachment without a del in between (the agent serialises calls per
 *    attachment).
 *  - del: idempotent. Succeeds for unknown attachments and when the netns is gone;
 *    releases as much as it can.
 *  - check: throws E_CHECK_FAILED (or a more specific code) when the attachment
 *    differs from req.prevResult or is missing.
 *  - gc: releases every attachment of req.network not in validAttachments.
 *  - status: cheap; called by STATUS and /readyz.
 * Errors are FairwayErrors with codes from AGENT_ERRORS (or kind "transient").
 */
export interface CniBackend {
  add(req: CniRequest): Promise<CniResult>;
  del(req: CniRequest): Promise<void>;
  check(req: CniRequest): Promise<void>;
  gc(req: CniGcRequest): Promise<void>;
  status(): Promise<CniStatus>;
}

// --- endpoints (GET /v1/endpoints[/:id])

export interface EndpointRecord {
  id: string;
  network: string;
  containerId: string;
  ifname: string;
  netns?: string;
  pod?: PodRef;
  /** addresses with prefix */
  ips: string[];
  hostIfname?: string;
  state: string;
  createdAt: string;
}

/** Read side of the "endpoint" module, served on /v1/endpoints. */
export interface EndpointReader {
  listEndpoints(): Promise<EndpointRecord[]>;
  getEndpoint(id: string): Promise<EndpointRecord | undefined>;
}

/** Optional on any module instance: feeds /readyz and /v1/status. Must be cheap. */
export interface ReadinessReporter {
  readiness(): { ready: boolean; reason?: string };
}

// --- status

export type ModuleState = "created" | "starting" | "started" | "failed" | "stopping" | "stopped";

export interface ModuleStatus {
  id: string;
  state: ModuleState;
  ready?: boolean;
  reason?: string;
  error?: string;
  /** What the module reports about itself (StatusReporter), e.g. IPAM usage. */
  details?: unknown;
}

/** Optional on any module instance: a JSON-safe summary shown by `fairway status`. */
export interface StatusReporter {
  statusDetails(): unknown | Promise<unknown>;
}

export interface KernelFeatureStatus {
  name: string;
  state: "yes" | "no" | "unknown";
  neededFor: string;
  minKernel: string;
}

export interface AgentStatus {
  nodeName: string;
  version: string;
  pid: number;
  startedAt: string;
  uptimeSeconds: number;
  ready: boolean;
  reason?: string;
  socket: string;
  datapathMode: string;
  cniBackend: boolean;
  kernel: string;
  kernelFeatures: KernelFeatureStatus[];
  modules: ModuleStatus[];
}

// --- errors

/**
 * Codes of errors that cross the socket and that the CNI plugin maps to CNI
 * codes (src/base/cni/errors.ts). Backends throw FairwayErrors with these codes; any
 * other code becomes CNI 100 (or 11 when its kind is "transient"). Never renumber
 * or reuse a code.
 */
export const AGENT_ERRORS = {
  notReady: "E_NOT_READY",
  noBackend: "E_NO_CNI_BACKEND",
  badRequest: "E_BAD_REQUEST",
  unsupportedField: "E_UNSUPPORTED_FIELD",
  notFound: "E_NOT_FOUND",
  containerUnknown: "E_CONTAINER_UNKNOWN",
  ipamExhausted: "E_IPAM_EXHAUSTED",
  ifnameTaken: "E_IFNAME_TAKEN",
  netnsNotFound: "E_NETNS_NOT_FOUND",
  checkFailed: "E_CHECK_FAILED",
  datapath: "E_DATAPATH",
  internal: "E_INTERNAL",
} as const;

/** The body of every non-2xx answer. */
export interface ApiError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
  kind?: string;
}

export function isApiError(value: unknown): value is ApiError {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.code === "string" && typeof v.message === "string";
}

// --- client

export interface AgentCallOptions {
  socketPath: string;
  method: "GET" | "POST";
  path: string;
  body?: unknown;
  /** give up when the socket does not accept within this many ms */
  connectTimeoutMs: number;
  /** give up when the whole exchange takes longer */
  timeoutMs: number;
}

export interface AgentReply {
  status: number;
  body: unknown;
}

/**
 * Why a call got no answer. "connect": nobody accepted (no socket, refused, or
 * connect timeout) so the request certainly did not run; "timeout" and
 * "io": it was sent and may have run.
 */
export class AgentUnreachableError extends Error {
  readonly reason: "connect" | "timeout" | "io";
  constructor(reason: "connect" | "timeout" | "io", message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "AgentUnreachableError";
    this.reason = reason;
  }
}

/** One request to the agent; resolves with any HTTP answer, rejects with AgentUnreachableError. */
export async function callAgent(options: AgentCallOptions): Promise<AgentReply> {
  const { socketPath, method, path } = options;
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  // Loaded on first use: the plugin's VERSION and its validation errors never pay for node:http.
  const { request } = await import("node:http");
  return new Promise((resolve, reject) => {
    let connected = false;
    let settled = false;
    const finish = (err: AgentUnreachableError | undefined, reply?: AgentReply): void => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(totalTimer);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(reply!);
    };
    const req = request({
      socketPath,
      method,
      path,
      agent: false,
      headers: {
        connection: "close",
        accept: "application/json",
        ...(payload === undefined
          ? {}
          : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }),
      },
    });
    const connectTimer = setTimeout(() => {
      if (!connected) {
        finish(
          new AgentUnreachableError(
            "connect",
            `no answer from ${socketPath} within ${options.connectTimeoutMs} ms`,
          ),
        );
      }
    }, options.connectTimeoutMs);
    const totalTimer = setTimeout(() => {
      finish(
        new AgentUnreachableError(
          "timeout",
          `agent did not answer ${method} ${path} within ${options.timeoutMs} ms`,
        ),
      );
    }, options.timeoutMs);
    req.on("socket", (socket) => {
      socket.once("connect", () => {
        connected = true;
      });
    });
    req.on("error", (err: NodeJS.ErrnoException) => {
      const reason = connected ? "io" : "connect";
      finish(
        new AgentUnreachableError(
          reason,
          `cannot reach the agent at ${socketPath}: ${err.code ?? err.message}`,
          err,
        ),
      );
    });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", (err) =>
        finish(new AgentUnreachableError("io", `reading the agent's answer: ${err.message}`, err)),
      );
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let body: unknown = text;
        try {
          body = text.length > 0 ? JSON.parse(text) : undefined;
        } catch {
          // keep the raw text: the caller reports a protocol error with it
        }
        finish(undefined, { status: res.statusCode ?? 0, body });
      });
    });
    req.end(payload);
  });
}
