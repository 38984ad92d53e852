// `fairway policy`: the policy engine from the command line. Offline, with
// -f <file|dir>... (ordinary Kubernetes YAML: Namespaces, Pods with labels,
// status.podIP and container ports, NetworkPolicies, Fairway policies), no
// cluster and no root, the same engine code the agent runs:
//   matrix  every pod -> pod verdict on the given ports and protocols
//   trace   one flow: the verdict and which policy and rule decided each side
//   list    the policies: accepted, or rejected with the reason
//   get     one endpoint's policy map, as the datapath will hold it
// Without -f, list and get will ask the agent (the datapath half of issue 5).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { FairwayError } from "../base/errors.ts";
import {
  ClusterStore,
  formatProblem,
  KINDS,
  type KindName,
  type ManifestProblem,
  parseManifest,
} from "../cluster/index.ts";
import {
  buildPolicyState,
  decideFlow,
  formatDecision,
  formatEndpointPolicy,
  formatMatrix,
  formatPolicyStatuses,
  PolicyCode,
  type PolicyState,
  PROTOCOLS,
  type Protocol,
  policyInputFromStore,
  policyMatrix,
  resolveEnd,
} from "../policy/index.ts";
import { parseFormat, renderData } from "./output.ts";

const USAGE = `usage:
  fairway policy matrix -f <file|dir>... [--ports 80,81] [--protocols TCP,UDP,SCTP] [-o table|json]
  fairway policy trace --from <ns/pod|IP> --to <ns/pod|IP> --port N [--protocol TCP|UDP|SCTP] -f <file|dir>... [-o table|json]
  fairway policy list -f <file|dir>... [-o table|json]
  fairway policy get <ns/pod> -f <file|dir>... [-o table|json]`;

function usage(message?: string): FairwayError {
  return new FairwayError("E_CLI_USAGE", message ? `${message}\n${USAGE}` : USAGE);
}

const MANIFEST = /\.(ya?ml|json)$/;

function manifestFiles(path: string): string[] {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch (err) {
    throw new FairwayError(PolicyCode.input, `cannot read ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (!st.isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .filter((e) => !e.startsWith("."))
    .flatMap((e) => {
      const p = join(path, e);
      return statSync(p).isDirectory() ? manifestFiles(p) : MANIFEST.test(e) ? [p] : [];
    });
}

/**
 * A store holding every object of the files (directories: their manifest
 * files, recursively, by name). Problems are reported, not fatal: an object
 * defined twice keeps its first definition.
 */
export function loadManifests(paths: readonly string[]): {
  store: ClusterStore;
  problems: string[];
} {
  if (paths.length === 0) throw usage("give the input with -f <file|dir>");
  const store = new ClusterStore({ kinds: Object.keys(KINDS) as KindName[] });
  const problems: ManifestProblem[] = [];
  const seen = new Map<string, string>();
  for (const file of paths.flatMap(manifestFiles)) {
    const parsed = parseManifest(file, readFileSync(file, "utf8"));
    problems.push(...parsed.problems);
    for (const o of parsed.objects) {
      const id = `${o.kind} ${o.key}`;
      const first = seen.get(id);
      if (first !== undefined) {
        problems.push({
          file,
          index: o.index,
          message: `${id} is also defined in ${first}, which wins`,
        });
        continue;
      }
      seen.set(id, file);
      store.apply(o.kind, o.object as never);
    }
  }
  for (const kind of store.kinds) store.markSynced(kind);
  return { store, problems: problems.map(formatProblem) };
}

/** The engine's state for the files, warnings on stderr. */
export function offlineState(paths: readonly string[]): PolicyState {
  const { store, problems } = loadManifests(paths);
  for (const p of problems) process.stderr.write(`warning: ${p}\n`);
  const state = buildPolicyState(policyInputFromStore(store));
  for (const p of state.policies) {
    if (p.state === "rejected")
      process.stderr.write(`warning: policy ${p.ref} rejected: ${p.reason}\n`);
  }
  return state;
}

function parseList<T>(text: string, one: (s: string) => T): T[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map(one);
}

function parsePort(s: string): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || n < 1 || n > 65_535) throw usage(`port "${s}" is not 1-65535`);
  return n;
}

function parseProtocol(s: string): Protocol {
  const p = s.toUpperCase();
  if (!(PROTOCOLS as readonly string[]).includes(p))
    throw usage(`protocol "${s}" is not TCP, UDP or SCTP`);
  return p as Protocol;
}

/** Defaults: the container ports the pods declare, and their protocols. */
function declared(state: PolicyState): { ports: number[]; protocols: Protocol[] } {
  const ports = new Set<number>();
  const protocols = new Set<Protocol>();
  for (const pod of state.pods.values()) {
    for (const p of pod.ports) {
      ports.add(p.port);
      protocols.add(p.protocol);
    }
  }
  return {
    ports: ports.size > 0 ? [...ports].sort((a, b) => a - b) : [80],
    protocols: protocols.size > 0 ? PROTOCOLS.filter((p) => protocols.has(p)) : ["TCP"],
  };
}

const OPTIONS = {
  file: { type: "string", short: "f", multiple: true },
  output: { type: "string", short: "o" },
  ports: { type: "string" },
  protocols: { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
  port: { type: "string" },
  protocol: { type: "string" },
} as const;

export async function runPolicy(args: string[]): Promise<number> {
  let parsed: ReturnType<
    typeof parseArgs<{ args: string[]; allowPositionals: true; options: typeof OPTIONS }>
  >;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: OPTIONS });
  } catch (err) {
    throw usage((err as Error).message);
  }
  const { values, positionals } = parsed;
  const [verb, target] = positionals;
  const files = values.file ?? [];
  const format = parseFormat(values.output, ["table", "json"]);
  if ((verb === "list" || verb === "get") && files.length === 0) {
    throw new FairwayError(
      "E_CLI_USAGE",
      `fairway policy ${verb} without -f asks the agent, which does not serve policies yet; give the cluster's YAML with -f`,
    );
  }
  switch (verb) {
    case "matrix":
      return matrix(files, values, format);
    case "trace":
      return trace(files, values, format);
    case "list": {
      const state = offlineState(files);
      write(
        format === "table"
          ? formatPolicyStatuses(state.policies)
          : renderData("json", { policies: state.policies }),
      );
      return 0;
    }
    case "get": {
      if (!target) throw usage("get needs an endpoint (namespace/name)");
      const state = offlineState(files);
      const ep = state.endpoints.get(target);
      if (!ep)
        throw new FairwayError(
          PolicyCode.unknownEndpoint,
          `no pod endpoint "${target}" in the input`,
        );
      write(
        format === "table" ? formatEndpointPolicy(ep, state.identities) : renderData("json", ep),
      );
      return 0;
    }
    default:
      throw usage(verb ? `unknown subcommand "${verb}"` : undefined);
  }
}

function write(text: string): void {
  process.stdout.write(text);
}

type Values = {
  [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K] extends { multiple: true } ? string[] : string;
};

function matrix(files: string[], values: Values, format: "table" | "json" | "yaml"): number {
  const state = offlineState(files);
  const defaults = declared(state);
  const ports = values.ports ? parseList(values.ports, parsePort) : defaults.ports;
  const protocols = values.protocols
    ? parseList(values.protocols, parseProtocol)
    : defaults.protocols;
  const flows = policyMatrix(state, { ports, protocols });
  write(format === "table" ? formatMatrix(flows) : `${JSON.stringify({ flows })}\n`);
  return 0;
}

function trace(files: string[], values: Values, format: "table" | "json" | "yaml"): number {
  if (!values.from || !values.to || !values.port)
    throw usage("trace needs --from, --to and --port");
  const port = parsePort(values.port);
  const protocol = parseProtocol(values.protocol ?? "TCP");
  const state = offlineState(files);
  const d = decideFlow(
    state,
    resolveEnd(state, values.from),
    resolveEnd(state, values.to),
    port,
    protocol,
  );
  write(
    format === "table"
      ? formatDecision(d, state.identities, (policy, rule) => state.rules.get(`${policy} ${rule}`))
      : renderData("json", d),
  );
  return 0;
}
