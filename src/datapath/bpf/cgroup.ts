// cgroup BPF attachments (sock_addr hooks and friends) as bpf_links. A link can
// be pinned so that it outlives the agent process; detach() releases it.
import { rmSync } from "node:fs";
import { native } from "../errors.ts";
import { type CgroupAttachType, loadNative } from "../native/binding.ts";
import type { BpfProgram } from "./object.ts";

export class CgroupLink {
  private fd: number;

  constructor(
    fd: number,
    readonly cgroupPath: string,
    readonly type: CgroupAttachType,
    readonly pinPath: string | undefined,
  ) {
    this.fd = fd;
  }

  /** Detaches the program from the cgroup and removes the pin, if any. Idempotent. */
  detach(): void {
    if (this.fd < 0) return;
    const b = loadNative();
    const fd = this.fd;
    this.fd = -1;
    try {
      native(() => b.linkDetach(fd), `detaching ${this.type} from ${this.cgroupPath}`);
    } finally {
      b.closeFd(fd);
      if (this.pinPath) rmSync(this.pinPath, { force: true });
    }
  }

  /** Closes our fd; a pinned link stays attached. */
  release(): void {
    if (this.fd < 0) return;
    loadNative().closeFd(this.fd);
    this.fd = -1;
  }
}

export function attachCgroup(
  program: BpfProgram,
  cgroupPath: string,
  type: CgroupAttachType,
  pinPath?: string,
): CgroupLink {
  const fd = native(
    () => loadNative().cgroupAttach(cgroupPath, program.fd, type, pinPath),
    `attaching ${program.name} as ${type} to cgroup ${cgroupPath}`,
  );
  return new CgroupLink(fd, cgroupPath, type, pinPath);
}
