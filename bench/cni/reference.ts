// The peer: Debian's reference plugins (containernetworking-plugins), `bridge`
// with `host-local` IPAM, configured the way podman's default network is: a
// bridge in the host namespace that is the pods' gateway. host-local keeps its
// state in a temp dir; the bridge (created by the first ADD) is deleted on close.

import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { benchName } from "./netns.ts";
import type { BenchNetwork, Conflist } from "./plugin.ts";

export const REFERENCE_PLUGIN_DIR = "/usr/lib/cni";
export const REFERENCE_LABEL = "bridge+host-local";

export function referenceNetwork(subnet: string): BenchNetwork {
  const bridge = join(REFERENCE_PLUGIN_DIR, "bridge");
  if (!existsSync(bridge) || !existsSync(join(REFERENCE_PLUGIN_DIR, "host-local"))) {
    throw new Error(
      `reference CNI plugins missing in ${REFERENCE_PLUGIN_DIR}; run: bash scripts/setup-podman.sh`,
    );
  }
  const stateDir = mkdtempSync(join(tmpdir(), "fwb-hostlocal-"));
  const bridgeName = benchName("br");
  // 1.0.0: the newest version containernetworking-plugins 1.1 speaks.
  const conflist: Conflist = {
    cniVersion: "1.0.0",
    name: benchName("ref"),
    plugins: [
      {
        type: "bridge",
        bridge: bridgeName,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: "host-local",
          dataDir: stateDir,
          ranges: [[{ subnet }]],
          routes: [{ dst: "0.0.0.0/0" }],
        },
      },
    ],
  };
  return {
    label: REFERENCE_LABEL,
    conflist,
    plugin: bridge,
    cniPath: REFERENCE_PLUGIN_DIR,
    async close() {
      try {
        execFileSync("ip", ["link", "del", bridgeName], { stdio: "ignore" });
      } catch {
        // never created (no ADD ran) or already gone
      }
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
