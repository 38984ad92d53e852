// The lab has no image store: a container's "image" picks a built-in command.
//
//   command given          it runs as written (on this machine's PATH); with a
//                          busybox image, an applet busybox has and the PATH
//                          lacks runs as `busybox <applet>`
//   fairway/echo[:tag]     the pod server: HTTP/TCP echo on each TCP container
//                          port, UDP echo on each UDP port (none declared:
//                          8080/TCP and 8080/UDP); args replace that choice
//   busybox[:tag]          `busybox <args>`; no args: sleeps (exec into it)
//   pause, */pause[:tag]   does nothing until deleted
//   anything else          the fairway/echo stand-in on the container's ports,
//                          with a warning
import { execFileSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import type { Container } from "../objects/types.ts";

export interface ContainerCommand {
  /** "pod-server" argv are appended to the pod server's own argv */
  kind: "exec" | "pod-server";
  argv: string[];
  warning?: string;
}

export const ECHO_IMAGE = "fairway/echo";

function onPath(cmd: string): boolean {
  if (cmd.includes("/")) return true;
  return (process.env.PATH ?? "").split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

let applets: Set<string> | undefined;
function busyboxApplets(): Set<string> {
  if (!applets) {
    try {
      applets = new Set(
        execFileSync("busybox", ["--list"], { encoding: "utf8" }).split("\n").filter(Boolean),
      );
    } catch {
      applets = new Set();
    }
  }
  return applets;
}

const imageName = (image: string) => image.split("@")[0]!.replace(/:[^/:]*$/, "");

function isBusybox(image: string | undefined): boolean {
  return image !== undefined && /(^|\/)busybox$/.test(imageName(image));
}

function echoArgs(c: Container): string[] {
  const args: string[] = [];
  for (const p of c.ports ?? []) {
    if ((p.protocol ?? "TCP") === "TCP") args.push("--tcp", String(p.containerPort));
    else if (p.protocol === "UDP") args.push("--udp", String(p.containerPort));
  }
  return args;
}

export function containerCommand(c: Container): ContainerCommand {
  const args = c.args ?? [];
  if (c.command && c.command.length > 0) {
    const [cmd, ...rest] = c.command;
    if (isBusybox(c.image) && !onPath(cmd!) && busyboxApplets().has(cmd!))
      return { kind: "exec", argv: ["busybox", cmd!, ...rest, ...args] };
    return { kind: "exec", argv: [...c.command, ...args] };
  }
  const image = c.image ?? "";
  const name = imageName(image);
  if (name === ECHO_IMAGE)
    return { kind: "pod-server", argv: ["serve", ...(args.length > 0 ? args : echoArgs(c))] };
  if (isBusybox(image)) {
    return {
      kind: "exec",
      argv: args.length > 0 ? ["busybox", ...args] : ["busybox", "sleep", "2147483647"],
    };
  }
  if (name === "pause" || name.endsWith("/pause")) return { kind: "pod-server", argv: ["pause"] };
  return {
    kind: "pod-server",
    argv: ["serve", ...echoArgs(c)],
    warning: `image "${image}" is not built into the lab (fairway/echo, busybox, pause): running the fairway/echo stand-in on its container ports`,
  };
}

/** The commands a pod would run, checked without running them: problems for commands not found. */
export function commandProblems(c: Container): string[] {
  const cmd = containerCommand(c);
  if (cmd.kind !== "exec") return [];
  const bin = cmd.argv[0]!;
  return onPath(bin)
    ? []
    : [`container "${c.name}": command "${bin}" is not on this machine's PATH`];
}
