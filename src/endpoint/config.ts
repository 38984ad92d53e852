// The endpoint module's config slice, picked from the agent config: where the
// datapath is pinned, its mode, the pods' MTU, the node's uplink and the
// prefix of host-side veth names. Validated once, frozen.

import { isAbsolute } from "node:path";
import { z } from "zod";
import { FairwayError } from "../base/errors.ts";
import { EndpointCode } from "./errors.ts";
import { MAX_PREFIX_LEN } from "./naming.ts";

export const ENDPOINT_MODES = ["veth", "veth-legacy"] as const;
export type EndpointMode = (typeof ENDPOINT_MODES)[number];

/** What the module reads from the whole agent config (other keys are ignored). */
const agentSliceSchema = z.looseObject({
  nodeName: z.string().min(1),
  bpffsRoot: z.string().refine(isAbsolute, "must be an absolute path"),
  mtu: z.number().int().min(68).max(65535).optional(),
  service: z
    .looseObject({
      tcLb: z.boolean().default(true),
      maglevTableSize: z.number().int().default(16381),
    })
    .prefault({}),
  datapath: z
    .looseObject({
      mode: z.enum(ENDPOINT_MODES).default("veth"),
      uplink: z.string().min(1).max(15).optional(),
      hostIfPrefix: z
        .string()
        .regex(
          new RegExp(`^[a-z][a-z0-9]{0,${MAX_PREFIX_LEN - 1}}$`),
          `1-${MAX_PREFIX_LEN} lower-case letters or digits, starting with a letter`,
        )
        .default("fwp"),
    })
    .prefault({}),
});

export interface EndpointConfig {
  readonly nodeName: string;
  /** bpffs directory of this node's pinned maps: <bpffsRoot>/<nodeName> */
  readonly pinRoot: string;
  readonly mode: EndpointMode;
  /** pod MTU; unset: the uplink's, else 1500 */
  readonly mtu?: number;
  /** the node's uplink, where from_netdev is attached; unset: none */
  readonly uplink?: string;
  /** host-side veth names are <prefix><hash of containerId/ifname> */
  readonly hostIfPrefix: string;
  /** the service LB settings the datapath objects are loaded with (service.tcLb, service.maglevTableSize) */
  readonly lb: { readonly tcLb: boolean; readonly maglevTableSize: number };
}

/** Picks and validates the slice; one E_ENDPOINT_BAD_CONFIG lists every problem. */
export function parseEndpointConfig(agentConfig: unknown): EndpointConfig {
  const parsed = agentSliceSchema.safeParse(agentConfig ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (i) => `${i.path.join(".") || "(config)"}: ${i.message}`,
    );
    throw new FairwayError(
      EndpointCode.badConfig,
      `invalid endpoint config:\n  ${problems.join("\n  ")}`,
      { details: { problems } },
    );
  }
  const c = parsed.data;
  return Object.freeze({
    nodeName: c.nodeName,
    pinRoot: `${c.bpffsRoot.replace(/\/+$/, "")}/${c.nodeName}`,
    mode: c.datapath.mode,
    ...(c.mtu === undefined ? {} : { mtu: c.mtu }),
    ...(c.datapath.uplink === undefined ? {} : { uplink: c.datapath.uplink }),
    hostIfPrefix: c.datapath.hostIfPrefix,
    lb: Object.freeze({ tcLb: c.service.tcLb, maglevTableSize: c.service.maglevTableSize }),
  });
}
