// tc (clsact) attachment of BPF programs to interfaces, in any network namespace.
// A TcAttachment owns what it created: detaching removes its filter, and the
// clsact qdisc too when this attachment created it and nothing else is left on it.

import { native } from "../errors.ts";
import { loadNative, type TcDirection } from "../native/binding.ts";
import type { BpfProgram } from "./object.ts";

export interface TcAttachOptions {
  program: BpfProgram;
  /** interface name (resolved inside netns) or index */
  ifname?: string;
  ifindex?: number;
  /** network namespace path; default: the agent's own */
  netns?: string;
  direction: TcDirection;
  priority?: number;
  handle?: number;
  /** replace a filter already at priority/handle instead of failing */
  replace?: boolean;
}

export class TcAttachment {
  private attached = true;

  constructor(
    readonly ifindex: number,
    readonly netns: string,
    readonly direction: TcDirection,
    readonly priority: number,
    readonly handle: number,
    readonly progId: number,
    /** true when attaching created the clsact qdisc */
    readonly hookCreated: boolean,
  ) {}

  /** Removes the filter (and the qdisc if we created it). Idempotent; tolerates a vanished interface. */
  detach(): void {
    if (!this.attached) return;
    this.attached = false;
    const b = loadNative();
    const target = { ifindex: this.ifindex, netns: this.netns, direction: this.direction };
    try {
      b.tcDetach({ ...target, priority: this.priority, handle: this.handle });
      if (this.hookCreated) b.tcHookDestroy({ ifindex: this.ifindex, netns: this.netns });
    } catch (err) {
      // The interface (or its namespace) is gone, and the filter with it.
      const errno = (err as { errno?: number }).errno;
      if (errno !== 19 /* ENODEV */ && errno !== 2 /* ENOENT */ && errno !== 22 /* EINVAL */)
        throw err;
    }
  }
}

export function attachTc(options: TcAttachOptions): TcAttachment {
  const netns = options.netns ?? "";
  const where = `${options.ifname ?? `ifindex ${options.ifindex}`}${netns ? ` in ${netns}` : ""}`;
  const r = native(
    () =>
      loadNative().tcAttach({
        ifname: options.ifname,
        ifindex: options.ifindex,
        netns,
        direction: options.direction,
        progFd: options.program.fd,
        priority: options.priority ?? 1,
        handle: options.handle ?? 1,
        replace: options.replace ?? false,
      }),
    `attaching ${options.program.name} to tc ${options.direction} of ${where}`,
  );
  return new TcAttachment(
    r.ifindex,
    netns,
    options.direction,
    r.priority,
    r.handle,
    r.progId,
    r.hookCreated,
  );
}

/** The program id attached at priority/handle, or null. */
export function queryTc(options: {
  ifname?: string;
  ifindex?: number;
  netns?: string;
  direction: TcDirection;
  priority?: number;
  handle?: number;
}): number | null {
  const r = native(() =>
    loadNative().tcQuery({
      ifname: options.ifname,
      ifindex: options.ifindex,
      netns: options.netns ?? "",
      direction: options.direction,
      priority: options.priority ?? 1,
      handle: options.handle ?? 1,
    }),
  );
  return r ? r.progId : null;
}
