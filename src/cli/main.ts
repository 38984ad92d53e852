// `fairway`: the command line for people. Each command lives in its own file;
// this file only dispatches.
import { errorMessage, isFairwayError } from "../base/errors.ts";

interface Command {
  summary: string;
  run(args: string[]): Promise<number>;
}

const commands: Record<string, Command> = {
  demo: {
    summary: "connectivity demo: two namespaces, a veth, a BPF counter, real traffic",
    run: async (args) => (await import("./demo.ts")).runDemo(args),
  },
  status: {
    summary: "agent health, datapath mode, kernel features, IPAM usage [-o table|json|yaml]",
    run: async (args) => (await import("./status.ts")).runStatus(args),
  },
  endpoint: {
    summary: "list|get <id>: the node's pod endpoints [-o table|json|yaml]",
    run: async (args) => (await import("./endpoint.ts")).runEndpoint(args),
  },
  service: {
    summary: "list: the service load-balancer table and what is programmed [-o table|json|yaml]",
    run: async (args) => (await import("./service.ts")).runService(args),
  },
  policy: {
    summary: "matrix|trace|list|get: policy verdicts, offline from YAML (-f) [-o table|json]",
    run: async (args) => (await import("./policy.ts")).runPolicy(args),
  },
  identity: {
    summary: "list|get <id>|ipcache: security identities and the ipcache, offline from YAML (-f)",
    run: async (args) => (await import("./identity.ts")).runIdentity(args),
  },
  lab: {
    summary:
      "up|check|status|get|apply|delete|exec|logs|restart-agent|down: a multi-node cluster on this machine",
    run: async (args) => (await import("./lab.ts")).runLab(args),
  },
  version: {
    summary: "print the version",
    run: async () => {
      console.log("fairway 0.1.0");
      return 0;
    },
  },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`);
  return `usage: fairway <command> [options]\n\ncommands:\n${lines.join("\n")}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`fairway: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  return command.run(rest);
}

// `fairway ... | head` closes stdout early: that is the reader's choice, not an error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw err;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // Expected errors are shown without a stack; bugs with one.
    if (isFairwayError(err) && err.kind !== "bug")
      process.stderr.write(`fairway: ${errorMessage(err)}\n`);
    else process.stderr.write(`fairway: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
