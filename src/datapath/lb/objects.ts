// Load-time settings of the service load balancer that every object holding
// its maps must agree on (lxc.o, host.o, sock.o share the maps by pin name,
// and libbpf refuses to reuse a pinned map whose value size differs).
import { FairwayError } from "../../base/errors.ts";

/** The Maglev table size lb.h is compiled with. */
export const LB_DEFAULT_MAGLEV_SIZE = 16381;

export interface LbLoadSettings {
  /** Per-packet LB in from_container/from_netdev (veth mode only). Default true. */
  tcLb?: boolean;
  /** Entries per Maglev table (a prime). Default 16381. */
  maglevTableSize?: number;
}

export interface LbLoadOptions {
  maglevTableSize: number;
  /** BpfObjectOptions.valueSizes for the maps sized at load. */
  valueSizes: Record<string, number>;
}

export function lbLoadOptions(settings: LbLoadSettings = {}): LbLoadOptions {
  const m = settings.maglevTableSize ?? LB_DEFAULT_MAGLEV_SIZE;
  if (!Number.isInteger(m) || m < 1 || m > 1 << 20) {
    throw new FairwayError(
      "E_LB_BAD_CONFIG",
      `Maglev table size ${m} is out of range (1..1048576)`,
    );
  }
  return { maglevTableSize: m, valueSizes: { fw_lb_maglev: m * 4 } };
}
