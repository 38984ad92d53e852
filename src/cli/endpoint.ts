// `fairway endpoint list|get <id>`: the node's pod endpoints, from the agent.
import { parseArgs } from "node:util";
import { type EndpointRecord, ROUTES } from "../base/api.ts";
import { FairwayError } from "../base/errors.ts";
import { getJson, socketFrom } from "./agent-client.ts";
import { parseFormat, renderData, renderTable } from "./output.ts";

function rows(endpoints: EndpointRecord[]): string[][] {
  return endpoints.map((e) => [
    e.id,
    e.pod ? `${e.pod.namespace}/${e.pod.name}` : "-",
    e.ips.join(","),
    e.hostIfname ?? "-",
    e.state,
    e.containerId.slice(0, 12),
  ]);
}

const HEADERS = ["id", "pod", "ips", "host interface", "state", "container"];

export async function runEndpoint(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { output: { type: "string", short: "o" }, socket: { type: "string" } },
  });
  const format = parseFormat(values.output);
  const socket = socketFrom(values.socket);
  const [verb, id] = positionals;
  if (verb === "list") {
    const { body } = await getJson<EndpointRecord[] | { endpoints: EndpointRecord[] }>(
      socket,
      ROUTES.endpoints,
    );
    const endpoints = Array.isArray(body) ? body : body.endpoints;
    process.stdout.write(
      format === "table" ? renderTable(HEADERS, rows(endpoints)) : renderData(format, endpoints),
    );
    return 0;
  }
  if (verb === "get" && id) {
    const { body } = await getJson<EndpointRecord>(
      socket,
      `${ROUTES.endpoints}/${encodeURIComponent(id)}`,
    );
    process.stdout.write(
      format === "table" ? renderTable(HEADERS, rows([body])) : renderData(format, body),
    );
    return 0;
  }
  throw new FairwayError(
    "E_CLI_USAGE",
    "usage: fairway endpoint list | fairway endpoint get <id|containerId> [-o table|json|yaml]",
  );
}
