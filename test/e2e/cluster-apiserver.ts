// A real control plane for e2e tests, on loopback only: etcd and kube-apiserver
// built by scripts/get-kube-apiserver.sh, bearer-token auth, AlwaysAllow
// authorization. Plus a TCP proxy in front of the API server, so that a test
// can cut its client's connections (a dropped watch) or refuse new ones.
// Everything started here is registered with the test's Cleanup.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Cleanup } from "../harness/index.ts";
import { repoRoot } from "../harness/index.ts";

const BIN = join(repoRoot, "build/tools/bin");
export const TOKEN = "fairway-e2e-token";

/** Builds the binaries when they are missing (idempotent; minutes the first time). */
export function ensureBinaries(): void {
  if (existsSync(join(BIN, "kube-apiserver")) && existsSync(join(BIN, "etcd"))) return;
  const r = spawnSync("bash", [join(repoRoot, "scripts/get-kube-apiserver.sh")], {
    stdio: "inherit",
  });
  if (r.status !== 0)
    throw new Error(`scripts/get-kube-apiserver.sh failed (exit ${r.status ?? r.signal})`);
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** GET over TLS without verification (readiness polling only); resolves with the status code. */
function probe(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      url,
      { rejectUnauthorized: false, headers: { Authorization: `Bearer ${TOKEN}` }, timeout: 2000 },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", () => resolve(0));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  proc: ChildProcess,
  logFile: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null)
      throw new Error(`${what} exited (${proc.exitCode}); log: ${tail(logFile)}`);
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms; log: ${tail(logFile)}`);
}

function tail(file: string): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-15).join("\n");
  } catch {
    return "(no log)";
  }
}

async function kill(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once("exit", resolve));
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** A byte-level TCP proxy (TLS passes through untouched). */
export class CuttableProxy {
  private readonly pairs = new Set<[Socket, Socket]>();
  private blocked = false;
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<CuttableProxy> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const proxy = new CuttableProxy(server, (server.address() as { port: number }).port);
    server.on("connection", (client) => proxy.accept(client, targetPort));
    return proxy;
  }

  private accept(client: Socket, targetPort: number): void {
    if (this.blocked) {
      client.destroy();
      return;
    }
    const upstream = netConnect(targetPort, "127.0.0.1");
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Connections open now (client side). */
  get open(): number {
    return this.pairs.size;
  }

  /** Cuts every open connection, as a dropped network would. */
  dropAll(): void {
    for (const [a, b] of [...this.pairs]) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
  }

  /** Refuses new connections (and cuts the open ones) until unblock(). */
  block(): void {
    this.blocked = true;
    this.dropAll();
  }

  unblock(): void {
    this.blocked = false;
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

export interface ControlPlane {
  dir: string;
  apiPort: number;
  etcdUrl: string;
  /** The API server's certificate bundle (its self-signed CA included). */
  caFile: string;
  /** Writes a kubeconfig for https://127.0.0.1:<port> with the test token. */
  kubeconfig(name: string, port: number): string;
  stopApiserver(): Promise<void>;
  startApiserver(): Promise<void>;
  /** Compacts etcd at its current revision (physical); returns that revision. */
  compactEtcd(): Promise<number>;
}

export async function startControlPlane(c: Cleanup): Promise<ControlPlane> {
  ensureBinaries();
  const dir = mkdtempSync(join(tmpdir(), "fairway-kube-"));
  c.defer(() => rmSync(dir, { recursive: true, force: true }));
  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const etcdUrl = `http://127.0.0.1:${etcdPort}`;

  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  writeFileSync(join(dir, "sa.key"), privateKey.export({ type: "pkcs1", format: "pem" }));
  writeFileSync(join(dir, "tokens.csv"), `${TOKEN},admin,admin,system:masters\n`);

  const etcdLog = join(dir, "etcd.log");
  const etcd = spawn(
    join(BIN, "etcd"),
    [
      "--data-dir",
      join(dir, "etcd"),
      "--name",
      "default",
      "--listen-client-urls",
      etcdUrl,
      "--advertise-client-urls",
      etcdUrl,
      "--listen-peer-urls",
      `http://127.0.0.1:${peerPort}`,
      "--initial-advertise-peer-urls",
      `http://127.0.0.1:${peerPort}`,
      "--initial-cluster",
      `default=http://127.0.0.1:${peerPort}`,
      "--log-outputs",
      etcdLog,
    ],
    { stdio: "ignore" },
  );
  c.defer(() => kill(etcd));
  await waitFor(
    "etcd",
    async () => (await fetch(`${etcdUrl}/health`).catch(() => undefined))?.ok === true,
    30_000,
    etcd,
    etcdLog,
  );

  const apiLog = join(dir, "kube-apiserver.log");
  let apiserver: ChildProcess | undefined;
  const startApiserver = async (): Promise<void> => {
    const { openSync, closeSync } = await import("node:fs");
    const fd = openSync(apiLog, "a");
    const proc = spawn(
      join(BIN, "kube-apiserver"),
      [
        "--etcd-servers",
        etcdUrl,
        "--bind-address",
        "127.0.0.1",
        "--advertise-address",
        "127.0.0.1",
        "--secure-port",
        String(apiPort),
        "--cert-dir",
        join(dir, "certs"),
        "--token-auth-file",
        join(dir, "tokens.csv"),
        "--authorization-mode",
        "AlwaysAllow",
        "--service-account-issuer",
        "https://fairway.e2e",
        "--service-account-key-file",
        join(dir, "sa.key"),
        "--service-account-signing-key-file",
        join(dir, "sa.key"),
        "--service-cluster-ip-range",
        "10.96.0.0/16",
        // As on kubeadm clusters: node agents such as Fairway's DaemonSet run privileged.
        "--allow-privileged=true",
      ],
      { stdio: ["ignore", fd, fd] },
    );
    closeSync(fd);
    apiserver = proc;
    await waitFor(
      "kube-apiserver",
      async () => (await probe(`https://127.0.0.1:${apiPort}/readyz`)) === 200,
      60_000,
      proc,
      apiLog,
    );
  };
  const stopApiserver = async (): Promise<void> => {
    if (apiserver) await kill(apiserver);
    apiserver = undefined;
  };
  c.defer(stopApiserver);
  await startApiserver();

  const caFile = join(dir, "certs/apiserver.crt");
  return {
    dir,
    apiPort,
    etcdUrl,
    caFile,
    kubeconfig(name, port) {
      const path = join(dir, `${name}.kubeconfig`);
      writeFileSync(
        path,
        [
          "apiVersion: v1",
          "kind: Config",
          `clusters: [{ name: e2e, cluster: { server: "https://127.0.0.1:${port}", certificate-authority: "${caFile}" } }]`,
          `users: [{ name: admin, user: { token: "${TOKEN}" } }]`,
          "contexts: [{ name: e2e, context: { cluster: e2e, user: admin } }]",
          "current-context: e2e",
          "",
        ].join("\n"),
      );
      return path;
    },
    startApiserver,
    stopApiserver,
    async compactEtcd() {
      // etcd's JSON gateway: read the current revision, then compact up to it
      const range = await fetch(`${etcdUrl}/v3/kv/range`, {
        method: "POST",
        body: JSON.stringify({ key: "AA==" }),
      });
      const revision = Number(
        ((await range.json()) as { header: { revision: string } }).header.revision,
      );
      const res = await fetch(`${etcdUrl}/v3/kv/compaction`, {
        method: "POST",
        body: JSON.stringify({ revision: String(revision), physical: true }),
      });
      if (!res.ok) throw new Error(`etcd compaction failed: ${res.status} ${await res.text()}`);
      return revision;
    },
  };
}
