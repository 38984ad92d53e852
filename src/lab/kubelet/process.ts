// A container's process: a small sh supervisor that enters the pod's network
// namespace (nsenter --net: only the network namespace, the rest is this
// machine's) and puts itself into the pod's cgroup before it runs the command,
// so the command's first connect() already goes through its node's socket LB.
// It restarts the command as restartPolicy says (1 s, doubling to 10 s) and
// appends "start <n> <time>" / "exit <n> <code> <time>" to a status file.
import { spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { FairwayError } from "../../base/errors.ts";

/** The supervisor, written once to <stateDir>/bin (so `ps` shows a short command line). */
const SUPERVISOR = `# fairway lab: a pod container's supervisor (see src/lab/kubelet/process.ts)
# usage: sh pod-supervisor.sh CGROUP_PROCS STATUS_FILE RESTART_POLICY COMMAND [ARGS...]
echo $$ > "$1" || exit 126
status=$2; policy=$3; shift 3
restarts=0; delay=1
while :; do
  echo "start $restarts $(date +%s)" >> "$status"
  "$@"
  code=$?
  echo "exit $restarts $code $(date +%s)" >> "$status"
  [ "$policy" = Never ] && exit "$code"
  [ "$policy" = OnFailure ] && [ "$code" -eq 0 ] && exit 0
  sleep "$delay"
  restarts=$((restarts + 1))
  [ "$delay" -lt 10 ] && delay=$((delay * 2))
done
`;

/** Writes the supervisor script under `binDir` (when it differs); returns its path. */
export function installSupervisor(binDir: string): string {
  const path = join(binDir, "pod-supervisor.sh");
  if (!existsSync(path) || readFileSync(path, "utf8") !== SUPERVISOR) {
    mkdirSync(binDir, { recursive: true });
    writeFileSync(`${path}.${process.pid}.tmp`, SUPERVISOR, { mode: 0o644 });
    renameSync(`${path}.${process.pid}.tmp`, path);
  }
  return path;
}

const EXEC = `echo $$ > "$1" || exit 126
shift
exec "$@"`;

export interface ContainerLaunch {
  /** from installSupervisor() */
  supervisor: string;
  netnsPath: string;
  /** absolute path of the pod's cgroup */
  cgroupPath: string;
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  logFile: string;
  statusFile: string;
  restartPolicy: "Always" | "OnFailure" | "Never";
}

/** Starts the supervisor detached (it outlives the lab command); returns its pid. */
export function startContainer(l: ContainerLaunch): number {
  const log = openSync(l.logFile, "a");
  try {
    const child = spawn(
      "nsenter",
      [
        `--net=${l.netnsPath}`,
        "--",
        "/bin/sh",
        l.supervisor,
        `${l.cgroupPath}/cgroup.procs`,
        l.statusFile,
        l.restartPolicy,
        ...l.argv,
      ],
      { cwd: l.cwd, env: l.env, detached: true, stdio: ["ignore", log, log] },
    );
    if (child.pid === undefined) throw new FairwayError("E_LAB_POD", "nsenter did not start");
    child.unref();
    return child.pid;
  } finally {
    closeSync(log);
  }
}

/** Runs a command in a pod (kubectl exec): same namespace and cgroup, stdio given. */
export function execInPod(
  netnsPath: string,
  cgroupPath: string,
  argv: string[],
  env: Record<string, string>,
  stdio: "inherit" | "pipe" = "inherit",
) {
  return spawn(
    "nsenter",
    [
      `--net=${netnsPath}`,
      "--",
      "/bin/sh",
      "-c",
      EXEC,
      "sh",
      `${cgroupPath}/cgroup.procs`,
      ...argv,
    ],
    { env, stdio },
  );
}

export interface ContainerExits {
  /** how many times the command exited */
  exits: number;
  /** the command runs now (false while the supervisor waits to restart it) */
  running: boolean;
  lastExit?: number;
}

/** What the supervisor's status file says about a container. */
export function containerExits(statusFile: string): ContainerExits {
  let lines: string[];
  try {
    lines = readFileSync(statusFile, "utf8").split("\n").filter(Boolean);
  } catch {
    return { exits: 0, running: false };
  }
  const exits = lines.filter((l) => l.startsWith("exit "));
  const last = exits.at(-1)?.split(" ");
  return {
    exits: exits.length,
    running: lines.at(-1)?.startsWith("start ") ?? false,
    ...(last ? { lastExit: Number(last[2]) } : {}),
  };
}

/**
 * The ports listening in the network namespace of `pid` (/proc/<pid>/net/*
 * shows that namespace's sockets): "8080/TCP", "53/UDP".
 */
export function listeningPorts(pid: number): Set<string> {
  const found = new Set<string>();
  const read = (file: string, proto: string, tcp: boolean) => {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${file}`, "utf8");
    } catch {
      return;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4) continue;
      // TCP: state 0A is LISTEN; UDP: 07 is an unconnected (bound) socket
      if ((tcp && f[3] !== "0A") || (!tcp && f[3] !== "07")) continue;
      found.add(`${Number.parseInt(f[1]!.split(":")[1]!, 16)}/${proto}`);
    }
  };
  read("tcp", "TCP", true);
  read("tcp6", "TCP", true);
  read("udp", "UDP", false);
  read("udp6", "UDP", false);
  return found;
}
