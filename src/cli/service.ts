// `fairway service list`: the agent's service load-balancer table (frontends
// -> backends, as `cilium service list` prints them), skipped services and
// problems, and whether the datapath programmed each frontend.
import { parseArgs } from "node:util";
import { isApiError, ROUTES } from "../base/api.ts";
import { FairwayError } from "../base/errors.ts";
import {
  type FrontendStatus,
  hostPort,
  type ServiceEntryStatus,
  type ServiceStatus,
} from "../service/index.ts";
import { getJson, socketFrom } from "./agent-client.ts";
import { parseFormat, renderData, renderTable } from "./output.ts";

const HEADERS = ["id", "frontend", "service type", "service", "backend"];

/** One row per backend; the first carries the frontend, a last one the programming error. */
function frontendRows(svc: ServiceEntryStatus, fe: FrontendStatus): string[][] {
  const lines =
    fe.action === "reject"
      ? ["(reject: no endpoints)"]
      : fe.action === "drop"
        ? ["(drop: Local traffic policy, no endpoint on this node)"]
        : fe.backends.length === 0
          ? ["(no backends)"]
          : fe.backends.map(
              (be) => `${be.id} => ${hostPort(be.address, be.port)}/${fe.protocol} (${be.state})`,
            );
  if (!fe.programmed) lines.push(`! not programmed: ${fe.error ?? "not written yet"}`);
  const frontend = `${hostPort(fe.address, fe.port)}/${fe.protocol}`;
  return lines.map((line, i) =>
    i === 0 ? [String(fe.id), frontend, fe.kind, svc.key, line] : ["", "", "", "", line],
  );
}

function datapathLine(d: ServiceStatus["datapath"]): string {
  const onOff = (b: boolean) => (b ? "on" : "off");
  const parts = [
    `socket LB ${onOff(d.socketLb)}`,
    `tc LB ${onOff(d.tcLb)}`,
    `algorithm ${d.algorithm}`,
    `Maglev table ${d.maglevTableSize}`,
    d.lastSyncMs === undefined
      ? "not synced yet"
      : `last sync ${Number(d.lastSyncMs.toFixed(2))} ms`,
  ];
  return `Datapath: ${parts.join(", ")}`;
}

/** The table, then skipped services, problems and the datapath summary. */
export function formatServiceStatus(status: ServiceStatus): string {
  const rows = status.services.flatMap((svc) =>
    svc.frontends.flatMap((fe) => frontendRows(svc, fe)),
  );
  const out = [renderTable(HEADERS, rows)];
  if (status.skipped.length > 0) {
    const width = Math.max(...status.skipped.map((s) => s.key.length));
    const lines = status.skipped.map((s) => `  ${s.key.padEnd(width)}   ${s.reason}`);
    out.push(`\nSkipped:\n${lines.join("\n")}\n`);
  }
  const problems = status.services.flatMap((svc) => svc.problems.map((p) => `  ${svc.key}: ${p}`));
  if (problems.length > 0) out.push(`\nProblems:\n${problems.join("\n")}\n`);
  const errors = status.datapath.errors.map((e) => `  ! ${e}`);
  out.push(`\n${[datapathLine(status.datapath), ...errors].join("\n")}\n`);
  return out.join("");
}

export async function runService(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { output: { type: "string", short: "o" }, socket: { type: "string" } },
  });
  const format = parseFormat(values.output);
  if (positionals.length !== 1 || positionals[0] !== "list") {
    throw new FairwayError("E_CLI_USAGE", "usage: fairway service list [-o table|json|yaml]");
  }
  const { status, body } = await getJson<unknown>(socketFrom(values.socket), ROUTES.services);
  // getJson hands 503 answers back as data; here they are errors (no service module).
  if (status !== 200) {
    if (isApiError(body))
      throw new FairwayError(body.code, body.message, { details: body.details ?? {} });
    throw new FairwayError(
      "E_AGENT_REPLY",
      `agent answered ${ROUTES.services} with HTTP ${status}`,
    );
  }
  process.stdout.write(
    format === "table" ? formatServiceStatus(body as ServiceStatus) : renderData(format, body),
  );
  return 0;
}
