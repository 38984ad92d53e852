// fairway-agent: reads its configuration, builds the module graph, serves the
// local API until SIGTERM/SIGINT, then stops in reverse order.
// Exit codes: 0 clean stop, 1 failure at run time, 2 bad configuration or usage.

import { stringify as toYaml } from "yaml";
import { ConfigError, envName, type ParsedFlag, parseFlags } from "../base/config.ts";
import { errorMessage, isFairwayError } from "../base/errors.ts";
import { createLogger } from "../base/log.ts";
import type { AnyModuleDecl } from "../base/module.ts";
import { Agent } from "./agent.ts";
import {
  AGENT_LEAVES,
  type AgentConfig,
  DEFAULT_CONFIG_PATH,
  ENV_PREFIX,
  loadAgentConfig,
} from "./config.ts";
import { agentModules } from "./modules.ts";
import { AGENT_VERSION } from "./version.ts";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_CONFIG = 2;
const SHUTDOWN_TIMEOUT_MS = 60_000;
const META_FLAGS = ["help", "version", "print-config"];

export interface RunOptions {
  /** replaces modules.ts's SUBSYSTEMS (tests run the real agent with a test backend this way) */
  subsystems?: readonly AnyModuleDecl[];
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
}

export async function runAgent(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  options: RunOptions = {},
): Promise<number> {
  const out = options.stdout ?? ((t: string) => process.stdout.write(t));
  const err = options.stderr ?? ((t: string) => process.stderr.write(t));
  const { flags, problems } = parseFlags(argv, META_FLAGS);
  const has = (name: string): boolean => flags.some((f) => f.name === name);
  if (has("help")) {
    out(usage());
    return EXIT_OK;
  }
  if (has("version")) {
    out(`fairway-agent ${AGENT_VERSION}\n`);
    return EXIT_OK;
  }
  const configFlag = flags.filter((f) => f.name === "config").at(-1);
  const settings: ParsedFlag[] = flags.filter((f) => !["config", ...META_FLAGS].includes(f.name));

  let config: AgentConfig;
  try {
    config = loadAgentConfig({
      flags: settings,
      env,
      configPath: configFlag?.value,
      argvProblems: problems,
    });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    err(`fairway-agent: ${e.message}\n`);
    return EXIT_CONFIG;
  }
  if (has("print-config")) {
    out(toYaml(config));
    return EXIT_OK;
  }

  const log = createLogger({ level: config.log.level });
  let agent: Agent;
  try {
    agent = new Agent({
      config,
      log,
      modules: agentModules(options.subsystems),
      version: AGENT_VERSION,
    });
  } catch (e) {
    err(`fairway-agent: ${errorMessage(e)}\n`);
    return e instanceof ConfigError ? EXIT_CONFIG : EXIT_FAILURE;
  }

  const signalled = waitForSignal(log);
  try {
    log.info(
      { version: AGENT_VERSION, node: config.nodeName, modules: agent.moduleIds() },
      "fairway-agent starting",
    );
    await agent.start();
  } catch (e) {
    // Expected failures (socket taken, bundle missing) are reported without a stack.
    const fields =
      isFairwayError(e) && e.kind === "expected"
        ? { code: e.code, details: e.details }
        : { err: e };
    log.fatal(fields, `fairway-agent failed to start: ${errorMessage(e)}`);
    err(`fairway-agent: ${errorMessage(e)}\n`);
    signalled.dispose();
    return EXIT_FAILURE;
  }

  const signal = await signalled.promise;
  log.info({ signal }, "stopping");
  const timeout = setTimeout(() => {
    log.fatal({ ms: SHUTDOWN_TIMEOUT_MS }, "shutdown took too long; exiting");
    log.flush();
    process.exit(EXIT_FAILURE);
  }, SHUTDOWN_TIMEOUT_MS);
  const failures = await agent.stop();
  clearTimeout(timeout);
  signalled.dispose();
  log.flush();
  return failures.length === 0 ? EXIT_OK : EXIT_FAILURE;
}

function waitForSignal(log: { warn(obj: object, msg: string): void }): {
  promise: Promise<NodeJS.Signals>;
  dispose(): void;
} {
  let received: NodeJS.Signals | undefined;
  let resolve!: (s: NodeJS.Signals) => void;
  const promise = new Promise<NodeJS.Signals>((r) => {
    resolve = r;
  });
  const onSignal = (signal: NodeJS.Signals): void => {
    if (received) {
      log.warn({ signal }, "already stopping");
      return;
    }
    received = signal;
    resolve(signal);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  return {
    promise,
    dispose() {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
    },
  };
}

function usage(): string {
  const settings = AGENT_LEAVES.map(
    (l) => `  --${l.path}=<${l.kind}>`.padEnd(44) + envName(ENV_PREFIX, l.path),
  ).join("\n");
  return `Usage: fairway-agent [--config=<file>] [--<setting>=<value>...]

Runs Fairway's node agent until SIGTERM or SIGINT.

  --config=<file>     YAML settings (default ${DEFAULT_CONFIG_PATH}, optional; env FAIRWAY_CONFIG)
  --print-config      print the merged, validated settings and exit
  --version, --help

Settings (lowest to highest: defaults < file < environment < flags; lists are comma-separated):
${settings}

Exit codes: 0 stopped cleanly, 1 failed, 2 bad configuration or usage.
`;
}
