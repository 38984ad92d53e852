// The service module's config slice (the agent config's `service` key):
// schema and defaults side by side, validated once, frozen.

import { z } from "zod";
import { FairwayError } from "../base/errors.ts";
import { ServiceCode } from "./errors.ts";
import { DEFAULT_MAGLEV_TABLE_SIZE, maglevSizeProblem } from "./maglev.ts";

export const ALGORITHMS = ["random", "maglev"] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

/** Per-service override of `algorithm`: "random" or "maglev". */
export const ALGORITHM_ANNOTATION = "fairway.io/lb-algorithm";

export const serviceConfigSchema = z.strictObject({
  /** Backend selection for services without the annotation. */
  algorithm: z.enum(ALGORITHMS).default("random"),
  /** Maglev lookup table size per service: a prime (default 16381). */
  maglevTableSize: z.number().int().default(DEFAULT_MAGLEV_TABLE_SIZE),
  /** Socket LB: cgroup connect/sendmsg/recvmsg/getpeername hooks at the node's cgroup root. */
  socketLb: z.boolean().default(true),
  /** Per-packet LB in the tc programs (veth mode): DNAT, connection tracking, reverse NAT. */
  tcLb: z.boolean().default(true),
  /** Addresses NodePorts open on; empty: the Node object's InternalIP/ExternalIP addresses. */
  nodeAddresses: z.array(z.ipv4().or(z.ipv6())).default([]),
});

export interface ServiceConfig {
  readonly algorithm: Algorithm;
  readonly maglevTableSize: number;
  readonly socketLb?: boolean;
  readonly tcLb?: boolean;
  readonly nodeAddresses?: readonly string[];
}

/** Validates the slice; throws one E_SERVICE_BAD_CONFIG that lists every problem. */
export function parseServiceConfig(raw: unknown): ServiceConfig {
  const parsed = serviceConfigSchema.safeParse(raw ?? {});
  const problems = parsed.success
    ? []
    : parsed.error.issues.map(
        (i) => `service${i.path.length ? `.${i.path.join(".")}` : ""}: ${i.message}`,
      );
  if (parsed.success) {
    const sizeProblem = maglevSizeProblem(parsed.data.maglevTableSize);
    if (sizeProblem) problems.push(`service.maglevTableSize: ${sizeProblem}`);
  }
  if (!parsed.success || problems.length > 0) {
    throw new FairwayError(
      ServiceCode.badConfig,
      `invalid service config:\n  ${problems.join("\n  ")}`,
      { details: { problems } },
    );
  }
  return Object.freeze({ ...parsed.data });
}
