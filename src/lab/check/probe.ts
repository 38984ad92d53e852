// The check's client: one pod-server "probe" process per source (a pod, or a
// namespace such as the router's), fed JSON lines on stdin, answering one JSON
// line per probe. Timings are taken inside that process, around the network
// exchange alone (no process start in them).
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { FairwayError } from "../../base/errors.ts";
import { execInPod } from "../kubelet/process.ts";
import type { ProbeRequest, ProbeResult } from "../podserver/server.ts";

export type { ProbeRequest, ProbeResult };

export class ProbeClient {
  private next = 1;
  private readonly waiting = new Map<number, (r: ProbeResult) => void>();
  private stderr = "";
  private readonly exited: Promise<void>;

  private constructor(
    readonly source: string,
    private readonly child: ChildProcess,
  ) {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      let r: ProbeResult;
      try {
        r = JSON.parse(line) as ProbeResult;
      } catch {
        return;
      }
      this.waiting.get(r.id)?.(r);
      this.waiting.delete(r.id);
    });
    child.stderr!.on("data", (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    void this.exited.then(() => {
      for (const [id, done] of this.waiting)
        done({ id, ok: false, ms: 0, error: `probe process exited: ${this.stderr.trim()}` });
      this.waiting.clear();
    });
  }

  /** Starts the probe process in a network namespace and cgroup. */
  static start(
    source: string,
    netnsPath: string,
    cgroupPath: string,
    podServer: string[],
    env: Record<string, string>,
  ): ProbeClient {
    return new ProbeClient(
      source,
      execInPod(netnsPath, cgroupPath, [...podServer, "probe"], env, "pipe"),
    );
  }

  probe(req: Omit<ProbeRequest, "id">): Promise<ProbeResult> {
    if (this.child.exitCode !== null || this.child.signalCode !== null)
      return Promise.reject(
        new FairwayError(
          "E_LAB_CHECK",
          `the probe process in ${this.source} is gone: ${this.stderr.trim()}`,
        ),
      );
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.child.stdin!.write(`${JSON.stringify({ ...req, id })}\n`);
    });
  }

  async close(): Promise<void> {
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 2000);
    await this.exited;
    clearTimeout(timer);
  }
}
