// `fairway lab up|status|down`: a multi-node cluster out of network namespaces.
import { parseArgs } from "node:util";
import { FairwayError } from "../base/errors.ts";
import { DEFAULT_PREFIX, DEFAULT_STATE_DIR, labDown, labStatus, labUp } from "../lab/index.ts";
import { parseFormat, renderData, renderTable } from "./output.ts";

const USAGE = `usage: fairway lab <up|status|down> [options]

  up      [--nodes N]   build the lab: a VPC, a router, N nodes (default 3), one agent each
  status  [-o table|json|yaml]   nodes, addresses, pod CIDRs, agents
  down                  remove everything the lab created (also after a failed up)

options: --state-dir DIR (default ${DEFAULT_STATE_DIR}), --prefix NAME (default ${DEFAULT_PREFIX})
`;

export async function runLab(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: {
      nodes: { type: "string", default: "3" },
      "state-dir": { type: "string", default: DEFAULT_STATE_DIR },
      prefix: { type: "string", default: DEFAULT_PREFIX },
      output: { type: "string", short: "o" },
    },
  });
  const stateDir = values["state-dir"];
  switch (sub) {
    case "up":
      return up(Number(values.nodes), values.prefix, stateDir);
    case "status":
      return status(stateDir, values.output);
    case "down": {
      const r = await labDown({ stateDir, prefix: values.prefix });
      console.log(
        `lab down: ${r.processes} agent(s) stopped, ${r.namespaces.length} namespace(s) deleted` +
          `${r.pins ? ", pins removed" : ""}${r.stateDir ? `, ${stateDir} removed` : ""}`,
      );
      return 0;
    }
    case undefined:
    case "help":
    case "--help":
      process.stdout.write(USAGE);
      return sub ? 0 : 2;
    default:
      throw new FairwayError("E_CLI_USAGE", `unknown lab command "${sub}"\n\n${USAGE}`);
  }
}

async function up(nodes: number, prefix: string, stateDir: string): Promise<number> {
  if (process.getuid?.() !== 0) {
    throw new FairwayError("E_LAB_ROOT", "fairway lab needs root (network namespaces, bpffs)");
  }
  const r = await labUp({ nodes, prefix, stateDir }, { say: (l) => console.log(l) }).catch(
    (err: unknown) => {
      const code = (err as { code?: unknown }).code;
      if (code === "E_LAB_EXISTS" || code === "E_LAB_USAGE") throw err;
      const flags = `${prefix === DEFAULT_PREFIX ? "" : ` --prefix ${prefix}`}${
        stateDir === DEFAULT_STATE_DIR ? "" : ` --state-dir ${stateDir}`
      }`;
      process.stderr.write(
        `lab up failed; what it made stays for inspection: fairway lab down${flags}\n`,
      );
      throw err;
    },
  );
  process.stdout.write(
    renderTable(
      ["node", "vpc address", "pod cidr", "agent pid"],
      r.state.nodes.map((n) => [n.name, n.vpcIp, n.podCIDR, String(n.pid ?? "-")]),
    ),
  );
  console.log(
    `lab up: ${nodes} node(s) ready in ${(r.totalMs / 1000).toFixed(1)} s ` +
      `(network ${Math.round(r.networkMs)} ms, agents ${Math.round(r.agentsMs)} ms); ` +
      `state in ${stateDir}`,
  );
  return 0;
}

async function status(stateDir: string, output: string | undefined): Promise<number> {
  const format = parseFormat(output);
  const s = await labStatus(stateDir);
  const healthy = s.exists && s.nodes.every((n) => n.ready);
  if (format !== "table") {
    process.stdout.write(renderData(format, s));
    return healthy ? 0 : 1;
  }
  if (!s.exists) {
    console.log(`no lab in ${stateDir}`);
    return 1;
  }
  console.log(`lab ${s.prefix} (${s.phase}, since ${s.startedAt}), state in ${stateDir}`);
  process.stdout.write(
    renderTable(
      ["node", "vpc address", "pod cidr", "agent pid", "agent"],
      s.nodes.map((n) => [
        n.name,
        n.vpcIp,
        n.podCIDR,
        n.pid === null ? "-" : String(n.pid),
        n.ready ? "ready" : n.running ? "not ready" : "not running",
      ]),
    ),
  );
  return healthy ? 0 : 1;
}
