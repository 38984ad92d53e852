// `fairway status`: agent health, datapath mode, kernel features, IPAM usage,
// module states — from the agent's /v1/status.
import { parseArgs } from "node:util";
import { type AgentStatus, ROUTES } from "../base/api.ts";
import { getJson, socketFrom } from "./agent-client.ts";
import { parseFormat, renderData, renderTable } from "./output.ts";

interface PoolUsage {
  cidr: string;
  family: number;
  size: string;
  used: number;
  free: string;
}

export async function runStatus(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { output: { type: "string", short: "o" }, socket: { type: "string" } },
  });
  const format = parseFormat(values.output);
  const { body: status } = await getJson<AgentStatus>(socketFrom(values.socket), ROUTES.status);
  if (format !== "table") {
    process.stdout.write(renderData(format, status));
    return status.ready ? 0 : 1;
  }
  const out: string[] = [];
  out.push(
    `Agent:        ${status.ready ? "ready" : `NOT READY (${status.reason ?? "no reason given"})`}`,
  );
  out.push(
    `Node:         ${status.nodeName}   version ${status.version}   pid ${status.pid}   up ${status.uptimeSeconds}s`,
  );
  out.push(`Datapath:     ${status.datapathMode}`);
  out.push(`Kernel:       ${status.kernel}`);
  const missing = status.kernelFeatures.filter((f) => f.state !== "yes");
  out.push(
    `Features:     ${status.kernelFeatures.filter((f) => f.state === "yes").length} of ${status.kernelFeatures.length} present` +
      (missing.length
        ? `; missing: ${missing.map((f) => `${f.name} (${f.neededFor})`).join(", ")}`
        : ""),
  );
  const ipam = status.modules.find((m) => m.id === "ipam")?.details as
    | { pools?: PoolUsage[] }
    | undefined;
  if (ipam?.pools?.length) {
    out.push("IPAM:");
    for (const p of ipam.pools)
      out.push(`  ${p.cidr.padEnd(20)} ${p.used} used, ${p.free} free of ${p.size}`);
  }
  out.push("\nModules:");
  process.stdout.write(`${out.join("\n")}\n`);
  process.stdout.write(
    renderTable(
      ["module", "state", "ready", "reason"],
      status.modules.map((m) => [
        m.id,
        m.state,
        m.ready === undefined ? "-" : String(m.ready),
        m.reason ?? m.error ?? "",
      ]),
    ),
  );
  return status.ready ? 0 : 1;
}
