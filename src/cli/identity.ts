// `fairway identity`: security identities and the ipcache. Offline, with
// -f <file|dir>... (the same YAML `fairway policy` reads): the identities the
// pods' labels and the policies' CIDRs get, and the ipcache that maps every
// pod, node and policy CIDR to one. Without -f these will ask the agent (the
// datapath half of issue 5).
import { parseArgs } from "node:util";
import { FairwayError } from "../base/errors.ts";
import {
  formatIdentity,
  formatIdentityTable,
  formatIpcache,
  IdentityCode,
} from "../identity/index.ts";
import { parseFormat, renderData } from "./output.ts";
import { offlineState } from "./policy.ts";

const USAGE = `usage:
  fairway identity list -f <file|dir>... [-o table|json]
  fairway identity get <id> -f <file|dir>... [-o table|json]
  fairway identity ipcache -f <file|dir>... [-o table|json]`;

export async function runIdentity(args: string[]): Promise<number> {
  let parsed: ReturnType<
    typeof parseArgs<{ args: string[]; allowPositionals: true; options: typeof OPTIONS }>
  >;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: OPTIONS });
  } catch (err) {
    throw new FairwayError("E_CLI_USAGE", `${(err as Error).message}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  const [verb, target] = positionals;
  const format = parseFormat(values.output, ["table", "json"]);
  if (!verb || !["list", "get", "ipcache"].includes(verb)) {
    throw new FairwayError("E_CLI_USAGE", verb ? `unknown subcommand "${verb}"\n${USAGE}` : USAGE);
  }
  if (!values.file?.length) {
    throw new FairwayError(
      "E_CLI_USAGE",
      `fairway identity ${verb} without -f asks the agent, which does not serve identities yet; give the cluster's YAML with -f`,
    );
  }
  const state = offlineState(values.file);
  const json = (data: unknown) => process.stdout.write(renderData("json", data));
  if (verb === "list") {
    if (format === "json") json({ identities: state.identities.identities });
    else process.stdout.write(formatIdentityTable(state.identities));
    return 0;
  }
  if (verb === "ipcache") {
    if (format === "json")
      json({ entries: state.ipcache.entries, problems: state.ipcache.problems });
    else process.stdout.write(formatIpcache(state.ipcache));
    return 0;
  }
  const id = Number(target);
  const identity = Number.isInteger(id) ? state.identities.byId.get(id) : undefined;
  if (!identity) {
    throw new FairwayError(
      IdentityCode.unknown,
      `no identity ${target ?? "(none given)"} in the input`,
    );
  }
  if (format === "json") json(identity);
  else process.stdout.write(`${formatIdentity(identity)}\n`);
  return 0;
}

const OPTIONS = {
  file: { type: "string", short: "f", multiple: true },
  output: { type: "string", short: "o" },
} as const;
