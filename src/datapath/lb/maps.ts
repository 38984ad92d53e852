// The service load balancer's pinned maps (bpf/lib/lb.h, lb_tc.h, sock.c),
// opened by pin path from a node's pin directory. Whoever loads lxc.o, host.o
// or sock.o first creates them; this only opens what is there.
import { join } from "node:path";
import { BpfMap } from "../bpf/map.ts";
import { array, type MapLayout, U32 } from "../codec.ts";
import * as lxc from "../generated/lxc.ts";
import * as sock from "../generated/sock.ts";

export type {
  CtEntry,
  CtKey,
  LbAffinity,
  LbAffinityKey,
  LbBackend,
  LbKey,
  LbNode,
  LbRevnat,
  LbService,
  LbSlotKey,
} from "../generated/lxc.ts";

/** enum lb_action */
export const LbAction = { FORWARD: 0, REJECT: 1, DROP: 2 } as const;
/** enum lb_service_flags */
export const LbServiceFlags = { MAGLEV: 1, AFFINITY: 2, EXTERNAL: 4 } as const;
/** enum lb_backend_flags */
export const LbBackendFlags = { TERMINATING: 1 } as const;
/** enum lb_frontend_kind */
export const LbKind = { ClusterIP: 0, NodePort: 1, ExternalIP: 2, LoadBalancer: 3 } as const;

export const LB_MAP_NAMES = [
  "fw_lb_services",
  "fw_lb_slots",
  "fw_lb_maglev",
  "fw_lb_backends",
  "fw_lb_revnat",
  "fw_lb_affinity",
  "fw_lb_sock",
  "fw_ct",
  "fw_lb_node",
] as const;

export class LbMaps {
  private constructor(
    readonly services: BpfMap<lxc.LbKey, lxc.LbService>,
    readonly slots: BpfMap<lxc.LbSlotKey, number>,
    readonly maglev: BpfMap<number, number[]>,
    readonly backends: BpfMap<number, lxc.LbBackend>,
    readonly revnat: BpfMap<number, lxc.LbRevnat>,
    readonly affinity: BpfMap<lxc.LbAffinityKey, lxc.LbAffinity>,
    readonly sock: BpfMap<sock.LbSockKey, sock.LbSockRevnat> | undefined,
    readonly ct: BpfMap<lxc.CtKey, lxc.CtEntry>,
    readonly node: BpfMap<number, lxc.LbNode>,
    readonly maglevTableSize: number,
  ) {}

  /** Opens the maps pinned in `pinRoot`; fw_lb_sock only when sock.o created it. */
  static open(pinRoot: string, maglevTableSize: number): LbMaps {
    const opened: BpfMap<unknown, unknown>[] = [];
    const open = <K, V>(name: string, layout: MapLayout<K, V>): BpfMap<K, V> => {
      const m = BpfMap.openPinned(join(pinRoot, name), layout);
      opened.push(m as BpfMap<unknown, unknown>);
      return m;
    };
    try {
      const m = lxc.maps;
      const maglevLayout: MapLayout<number, number[]> = {
        ...m.fw_lb_maglev,
        valueCodec: array(U32, maglevTableSize),
        valueSize: maglevTableSize * 4,
      };
      let sockMap: BpfMap<sock.LbSockKey, sock.LbSockRevnat> | undefined;
      try {
        sockMap = open("fw_lb_sock", sock.maps.fw_lb_sock);
      } catch {
        sockMap = undefined;
      }
      return new LbMaps(
        open("fw_lb_services", m.fw_lb_services),
        open("fw_lb_slots", m.fw_lb_slots),
        open("fw_lb_maglev", maglevLayout),
        open("fw_lb_backends", m.fw_lb_backends),
        open("fw_lb_revnat", m.fw_lb_revnat),
        open("fw_lb_affinity", m.fw_lb_affinity),
        sockMap,
        open("fw_ct", m.fw_ct),
        open("fw_lb_node", m.fw_lb_node),
        maglevTableSize,
      );
    } catch (err) {
      for (const o of opened) o.close();
      throw err;
    }
  }

  close(): void {
    for (const m of [
      this.services,
      this.slots,
      this.maglev,
      this.backends,
      this.revnat,
      this.affinity,
      this.sock,
      this.ct,
      this.node,
    ])
      m?.close();
  }
}

/** enum l3_family */
export const LbFamily = { IPv4: 4, IPv6: 6 } as const;
