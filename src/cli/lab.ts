// `fairway lab`: a multi-node cluster of network namespaces on this machine,
// pods running real processes through Fairway's CNI, kubectl-like commands,
// and a connectivity check. The work is in src/lab/; this file parses
// arguments and prints.
import { relative } from "node:path";
import { parseArgs } from "node:util";
import { FairwayError } from "../base/errors.ts";
import {
  type ApplyReport,
  applyFiles,
  applyText,
  checkResultLine,
  checkSummaryText,
  DEFAULT_PREFIX,
  DEFAULT_STATE_DIR,
  DEMO_MANIFEST,
  type DeleteTarget,
  deleteObjects,
  downText,
  execPod,
  getObjects,
  kindOf,
  labDown,
  labStatus,
  labUp,
  nextStepsText,
  openLab,
  podLogs,
  podServerMain,
  progressBar,
  restartAgent,
  runCheck,
  statusText,
  targetsOfFiles,
  withLabLock,
} from "../lab/index.ts";
import { parseFormat, renderData, renderTable } from "./output.ts";

const USAGE = `usage: fairway lab <command> [options]

  up [--nodes N] [-f FILE|DIR]... [--no-demo] [--check]
                 build the lab: a VPC, a router, N nodes (default 3) with an agent
                 each, then the demo app (or the given manifests); --check: then
                 run lab check
  check [--keep] [-o table|json]
                 connectivity test: pod to pod, services, NodePorts, outside
  status [-o table|json|yaml]   nodes, agents' health, pods
  get pods|services|nodes|policies|endpointslices|namespaces [NAME...]
                 [-n NS | -A] [-o wide|json|yaml]
  apply -f FILE|DIR|- ...       create or update objects (kubectl apply)
  delete -f FILE|DIR|- ... | delete KIND NAME... [-n NS]
  exec POD [-n NS] -- COMMAND [ARGS...]   run a command inside a pod
  logs POD [-n NS] [-c CONTAINER]
  restart-agent NODE...         restart nodes' agents (pods keep running)
  demo                          print the demo app's manifests
  down                          remove everything the lab created (also after a failed up)

options: --state-dir DIR (default ${DEFAULT_STATE_DIR}), --prefix NAME (default ${DEFAULT_PREFIX}, up/down)
`;

type Values = {
  nodes: string;
  "state-dir": string;
  prefix: string;
  output?: string;
  filename?: string[];
  namespace?: string;
  "all-namespaces"?: boolean;
  container?: string;
  keep?: boolean;
  "no-demo"?: boolean;
  check?: boolean;
};

function needRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new FairwayError(
      "E_LAB_ROOT",
      "fairway lab needs root (network namespaces, bpffs, cgroups)",
    );
  }
}

export async function runLab(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === "pod-server") {
    podServerMain(rest);
    return new Promise<number>(() => {}); // runs until it is signalled
  }
  const dash = rest.indexOf("--");
  const command = dash >= 0 ? rest.slice(dash + 1) : [];
  const { values, positionals } = parseArgs({
    args: dash >= 0 ? rest.slice(0, dash) : rest,
    allowPositionals: true,
    options: {
      nodes: { type: "string", default: "3" },
      "state-dir": { type: "string", default: DEFAULT_STATE_DIR },
      prefix: { type: "string", default: DEFAULT_PREFIX },
      output: { type: "string", short: "o" },
      filename: { type: "string", short: "f", multiple: true },
      namespace: { type: "string", short: "n" },
      "all-namespaces": { type: "boolean", short: "A" },
      container: { type: "string", short: "c" },
      keep: { type: "boolean" },
      "no-demo": { type: "boolean" },
      check: { type: "boolean" },
    },
  });
  const v = values as Values;
  const stateDir = v["state-dir"];
  switch (sub) {
    case "up":
      return up(v);
    case "status":
      return status(stateDir, v.output);
    case "down":
      return down(v);
    case "apply":
      return apply(v);
    case "delete":
      return remove(v, positionals);
    case "get":
      return get(v, positionals);
    case "exec":
      return exec(v, positionals, command);
    case "logs":
      return logs(v, positionals);
    case "check":
      return check(v);
    case "restart-agent":
      return restart(v, positionals);
    case "demo":
      process.stdout.write(DEMO_MANIFEST);
      return 0;
    case undefined:
    case "help":
    case "--help":
      process.stdout.write(USAGE);
      return sub ? 0 : 2;
    default:
      throw new FairwayError("E_CLI_USAGE", `unknown lab command "${sub}"\n\n${USAGE}`);
  }
}

function labFlags(v: Values): string {
  return `${v.prefix === DEFAULT_PREFIX ? "" : ` --prefix ${v.prefix}`}${
    v["state-dir"] === DEFAULT_STATE_DIR ? "" : ` --state-dir ${v["state-dir"]}`
  }`;
}

async function up(v: Values): Promise<number> {
  needRoot();
  const stateDir = v["state-dir"];
  const flags = labFlags(v);
  const r = await labUp(
    {
      nodes: Number(v.nodes),
      prefix: v.prefix,
      stateDir,
      ...(v.filename ? { manifests: v.filename } : {}),
      demo: !v["no-demo"],
    },
    { say: (l) => console.log(l) },
  ).catch((err: unknown) => {
    const code = (err as { code?: unknown }).code;
    if (code === "E_LAB_EXISTS" || code === "E_LAB_USAGE" || code === "E_LAB_INVALID") throw err;
    process.stderr.write(
      `lab up failed; what it made stays for inspection: fairway lab down${flags}\n`,
    );
    throw err;
  });
  process.stdout.write(
    renderTable(
      ["node", "vpc address", "pod cidr", "agent pid"],
      r.state.nodes.map((n) => [n.name, n.vpcIp, n.podCIDR, String(n.pid ?? "-")]),
    ),
  );
  if (r.apply) printApply(r.apply);
  console.log(
    `lab up: ${r.state.nodes.length} node(s) ready in ${(r.totalMs / 1000).toFixed(1)} s ` +
      `(network ${Math.round(r.networkMs)} ms, agents ${Math.round(r.agentsMs)} ms, pods ${Math.round(r.podsMs)} ms); ` +
      `state in ${stateDir}`,
  );
  let code = r.apply && r.apply.errors.length > 0 ? 1 : 0;
  if (v.check) {
    console.log("");
    code = Math.max(code, await check(v));
  }
  printNext(v, r.state.nodes[0]?.socket ?? "");
  return code;
}

/** How this CLI was started, for commands to copy: "node dist/fairway.js" or "fairway". */
function self(): string {
  const main = process.argv[1] ?? "";
  return main.endsWith("fairway.js") ? `node ${relative(process.cwd(), main) || main}` : "fairway";
}

function printNext(v: Values, socket: string): void {
  const store = openLab(v["state-dir"]).store;
  const web = store.get("Service", "default", "web") as
    | { spec?: { clusterIP?: string } }
    | undefined;
  const webClusterIP = store.get("Pod", "default", "client") ? web?.spec?.clusterIP : undefined;
  process.stdout.write(
    nextStepsText({
      fw: self(),
      // Commands after up find the lab (and its prefix) by its state dir.
      flags: v["state-dir"] === DEFAULT_STATE_DIR ? "" : ` --state-dir ${v["state-dir"]}`,
      socket,
      ...(webClusterIP ? { webClusterIP } : {}),
    }),
  );
}

async function down(v: Values): Promise<number> {
  const stateDir = v["state-dir"];
  process.stdout.write(downText(await labDown({ stateDir, prefix: v.prefix }), stateDir));
  return 0;
}

function printApply(r: ApplyReport): void {
  const text = applyText(r);
  process.stdout.write(text.out);
  process.stderr.write(text.err);
}

async function apply(v: Values): Promise<number> {
  needRoot();
  if (!v.filename?.length)
    throw new FairwayError("E_CLI_USAGE", "usage: fairway lab apply -f FILE|DIR|- ...");
  const lab = openLab(v["state-dir"]);
  const r = await withLabLock(lab.plan.stateDir, "apply", () => applyFiles(lab, v.filename!));
  printApply(r);
  return r.errors.length > 0 ? 1 : 0;
}

async function remove(v: Values, positionals: string[]): Promise<number> {
  needRoot();
  const lab = openLab(v["state-dir"]);
  let targets: DeleteTarget[];
  if (v.filename?.length) {
    targets = targetsOfFiles(v.filename);
  } else {
    const [kind, ...names] = positionals;
    if (!kind || names.length === 0)
      throw new FairwayError(
        "E_CLI_USAGE",
        "usage: fairway lab delete -f FILE|DIR|- | fairway lab delete KIND NAME... [-n NS]",
      );
    const k = kindOf(kind);
    targets = names.map((name) => ({ kind: k, name, namespace: v.namespace ?? "default" }));
  }
  const r = await withLabLock(lab.plan.stateDir, "delete", () => deleteObjects(lab, targets));
  for (const d of r.deleted) console.log(`${d} deleted`);
  for (const w of r.warnings) process.stderr.write(`Warning: ${w}\n`);
  for (const n of r.notFound) process.stderr.write(`Error: ${n}\n`);
  return r.notFound.length > 0 ? 1 : 0;
}

async function get(v: Values, positionals: string[]): Promise<number> {
  const [resource, ...names] = positionals;
  if (!resource)
    throw new FairwayError(
      "E_CLI_USAGE",
      "usage: fairway lab get pods|services|nodes|policies|endpointslices|namespaces [NAME...] [-n NS | -A] [-o wide|json|yaml]",
    );
  const wide = v.output === "wide";
  const format = wide ? "table" : parseFormat(v.output);
  const lab = openLab(v["state-dir"]);
  const kind = resource.toLowerCase().startsWith("node") ? "Node" : "";
  const nodeReady = new Map<string, boolean>();
  if (kind === "Node") {
    const s = await labStatus(v["state-dir"]);
    for (const n of s.nodes) nodeReady.set(n.name, n.ready);
  }
  const namespace = v["all-namespaces"] ? undefined : (v.namespace ?? "default");
  const r = getObjects(lab, {
    resource,
    names,
    ...(namespace ? { namespace } : {}),
    wide,
    nodeReady,
  });
  if (format !== "table") {
    const data =
      names.length === 1 ? r.objects[0] : { apiVersion: "v1", kind: "List", items: r.objects };
    process.stdout.write(renderData(format, data));
    return 0;
  }
  if (r.rows.length === 0) {
    console.log(
      namespace && r.kind !== "Node" && r.kind !== "Namespace"
        ? `No resources found in ${namespace} namespace.`
        : "No resources found.",
    );
    return 0;
  }
  process.stdout.write(renderTable(r.headers, r.rows));
  return 0;
}

async function exec(v: Values, positionals: string[], command: string[]): Promise<number> {
  needRoot();
  const [pod] = positionals;
  if (!pod || command.length === 0)
    throw new FairwayError(
      "E_CLI_USAGE",
      "usage: fairway lab exec POD [-n NS] -- COMMAND [ARGS...]",
    );
  const lab = openLab(v["state-dir"]);
  const child = execPod(lab, v.namespace ?? "default", pod, command);
  return new Promise((resolve) => {
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

async function logs(v: Values, positionals: string[]): Promise<number> {
  const [pod] = positionals;
  if (!pod)
    throw new FairwayError("E_CLI_USAGE", "usage: fairway lab logs POD [-n NS] [-c CONTAINER]");
  process.stdout.write(
    podLogs(openLab(v["state-dir"]), v.namespace ?? "default", pod, v.container),
  );
  return 0;
}

async function restart(v: Values, nodes: string[]): Promise<number> {
  needRoot();
  if (nodes.length === 0)
    throw new FairwayError("E_CLI_USAGE", "usage: fairway lab restart-agent NODE...");
  const lab = openLab(v["state-dir"]);
  await withLabLock(lab.plan.stateDir, "restart-agent", async () => {
    for (const node of nodes) {
      const r = await restartAgent(lab, node);
      console.log(`${node}: agent restarted (pid ${r.pid}), ready in ${Math.round(r.ms)} ms`);
    }
  });
  return 0;
}

async function check(v: Values): Promise<number> {
  needRoot();
  const format = parseFormat(v.output, ["table", "json"]);
  const lab = openLab(v["state-dir"]);
  const table = format === "table";
  const tty = table && process.stdout.isTTY === true;
  if (table)
    console.log(
      `lab check: ${lab.plan.nodes.length} node(s); deploying the check's pods in namespace fairway-check`,
    );
  const report = await runCheck(lab, {
    ...(v.keep ? { keep: true } : {}),
    onStart(i, total, s) {
      if (tty) process.stdout.write(`\r\x1b[K${progressBar(i, total)} ${s.name} ...`);
    },
    onResult(i, total, r) {
      if (!table) return;
      process.stdout.write(`${tty ? "\r\x1b[K" : ""}${checkResultLine(r)}`);
      if (tty && i + 1 < total) process.stdout.write(progressBar(i + 1, total));
    },
  });
  process.stdout.write(table ? checkSummaryText(report, renderTable) : renderData("json", report));
  return report.failed > 0 ? 1 : 0;
}

async function status(stateDir: string, output: string | undefined): Promise<number> {
  const format = parseFormat(output);
  const s = await labStatus(stateDir);
  const healthy = s.exists && s.nodes.every((n) => n.ready);
  process.stdout.write(format === "table" ? statusText(s, renderTable) : renderData(format, s));
  return healthy ? 0 : 1;
}
