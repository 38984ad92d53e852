// What `fairway lab` prints, as text built from the lab's results (the CLI
// only writes it out). Tables are drawn by the renderer the caller hands in,
// so the lab and the rest of the CLI share one table style.
import type { ApplyReport } from "./apply.ts";
import type { CheckReport, ScenarioResult } from "./check/run.ts";
import type { DownResult } from "./down.ts";
import type { LabStatus } from "./status.ts";

export type TableRenderer = (headers: string[], rows: string[][]) => string;

/** kubectl-style lines: "pod/web-1 created (10.100.1.2 on fwlab-node-1, ready in 120 ms)". */
export function applyText(r: ApplyReport): { out: string; err: string } {
  const out = r.lines.map((l) => {
    const where = l.ip
      ? ` (${l.ip} on ${l.node}${l.readyMs === undefined ? "" : `, ready in ${l.readyMs} ms`})`
      : "";
    const ns = l.namespace && l.namespace !== "default" ? ` -n ${l.namespace}` : "";
    return `${l.ref}${ns} ${l.action}${where}\n`;
  });
  const err = [
    ...r.warnings.map((w) => `Warning: ${w}\n`),
    ...r.errors.map((e) => `Error: ${e}\n`),
  ];
  return { out: out.join(""), err: err.join("") };
}

export function downText(r: DownResult, stateDir: string): string {
  return (
    `lab down: ${r.processes} agent(s) stopped, ${r.namespaces.length} namespace(s) deleted` +
    `${r.podProcesses ? `, ${r.podProcesses} pod process(es) stopped` : ""}` +
    `${r.pins ? ", pins removed" : ""}${r.cgroups ? ", cgroups removed" : ""}` +
    `${r.stateDir ? `, ${stateDir} removed` : ""}\n`
  );
}

/** "[#####.....] 4/11", for a terminal. */
export function progressBar(done: number, total: number, width = 20): string {
  const n = Math.round((done / total) * width);
  return `[${"#".repeat(n)}${".".repeat(width - n)}] ${done}/${total}`;
}

export function checkResultLine(r: ScenarioResult): string {
  const mark = r.status === "pass" ? "ok  " : r.status === "skip" ? "skip" : "FAIL";
  const time = r.ms === undefined ? "" : ` ${r.ms.toFixed(2)} ms`;
  return `${mark} ${r.name}${time}  ${r.detail}\n`;
}

export function checkSummaryText(r: CheckReport, table: TableRenderer): string {
  const rows = r.results.map((x) => [
    x.name,
    x.status === "pass" ? "pass" : x.status === "skip" ? "skipped" : "FAIL",
    x.ms === undefined ? "-" : `${x.ms.toFixed(2)} ms`,
    x.what,
  ]);
  const verdict = r.failed > 0 ? `${r.failed} FAILED` : "all passed";
  return (
    `\n${table(["scenario", "result", "time", "what"], rows)}` +
    `\nlab check: ${verdict}: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped ` +
    `in ${(r.totalMs / 1000).toFixed(1)} s (setup ${Math.round(r.setupMs)} ms)\n`
  );
}

export function statusText(s: LabStatus, table: TableRenderer): string {
  if (!s.exists) return `no lab in ${s.stateDir}\n`;
  const nodes = s.nodes.map((n) => [
    n.name,
    n.vpcIp,
    n.podCIDR,
    n.pid === null ? "-" : String(n.pid),
    n.ready ? "ready" : n.running ? "not ready" : "not running",
    `${n.podsRunning}/${n.pods} running`,
  ]);
  let out = `lab ${s.prefix} (${s.phase}, since ${s.startedAt}), state in ${s.stateDir}\n`;
  out += table(["node", "vpc address", "pod cidr", "agent pid", "agent", "pods"], nodes);
  if (s.outside)
    out += `outside: ${s.outside.address} ${s.outside.running ? "serving" : "not running"}\n`;
  if (s.pods.length > 0) {
    const pods = s.pods.map((p) => [
      p.namespace,
      p.name,
      p.ready,
      p.status,
      p.ip || "<none>",
      p.node,
    ]);
    out += `\n${table(["namespace", "pod", "ready", "status", "ip", "node"], pods)}`;
  }
  return out;
}

export interface NextSteps {
  /** how the CLI was started: "fairway", "node dist/fairway.js" */
  fw: string;
  /** " --prefix … --state-dir …" when not the defaults */
  flags: string;
  /** the demo's web ClusterIP, when the demo app runs */
  webClusterIP?: string;
  socket: string;
}

export function nextStepsText(n: NextSteps): string {
  const { fw, flags: f } = n;
  const demo = n.webClusterIP
    ? [
        `  ${fw} lab exec client${f} -- curl -s http://${n.webClusterIP}      # web's ClusterIP`,
        `  ${fw} lab exec client${f} -- curl -s http://172.31.0.12:30080   # web's NodePort on node 2`,
      ]
    : [];
  return `${[
    "",
    "what to try next:",
    `  ${fw} lab check${f}                  # connectivity test: pods, services, NodePorts, outside`,
    `  ${fw} lab get pods -o wide${f}       # pods, their addresses and nodes`,
    `  ${fw} lab get services${f}           # ClusterIPs and NodePorts`,
    ...demo,
    `  ${fw} lab demo > app.yaml && ${fw} lab apply -f app.yaml${f}   # your own pods and services`,
    `  ${fw} service list --socket ${n.socket}   # what an agent programmed`,
    `  ${fw} lab down${f}                   # remove everything the lab made`,
  ].join("\n")}\n`;
}
