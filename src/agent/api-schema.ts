// Validation of request bodies arriving on the socket. The plugin validates
// too, but the socket is an API: the agent trusts no caller. The schemas are
// checked against the protocol types in base/api.ts at compile time.

import { z } from "zod";
import { AGENT_ERRORS, type CniGcRequest, type CniRequest, type CniResult } from "../base/api.ts";
import { formatPath } from "../base/config.ts";
import { FairwayError } from "../base/errors.ts";

const containerId = z
  .string()
  .regex(
    /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/,
    "must start with a letter or digit, then letters, digits, _ . -",
  );
const ifname = z
  .string()
  .min(1)
  .max(15)
  .refine((s) => s !== "." && s !== ".." && !/[/:\s]/.test(s), "not a valid interface name");

const resultSchema = z.looseObject({
  cniVersion: z.string(),
  interfaces: z.array(z.looseObject({ name: z.string() })).optional(),
  ips: z
    .array(z.looseObject({ address: z.string(), interface: z.number().int().min(0).optional() }))
    .optional(),
  routes: z.array(z.looseObject({ dst: z.string() })).optional(),
  dns: z.looseObject({}).optional(),
}) satisfies z.ZodType<CniResult>;

const dnsSchema = z.strictObject({
  nameservers: z.array(z.string()).optional(),
  domain: z.string().optional(),
  search: z.array(z.string()).optional(),
  options: z.array(z.string()).optional(),
});

export const cniRequestSchema = z.strictObject({
  network: z.string().min(1),
  cniVersion: z.string().min(1),
  containerId,
  ifname,
  netns: z.string().min(1).optional(),
  pod: z
    .strictObject({
      namespace: z.string(),
      name: z.string(),
      infraContainerId: z.string().optional(),
      uid: z.string().optional(),
    })
    .optional(),
  args: z.record(z.string(), z.string()),
  runtimeConfig: z.record(z.string(), z.unknown()).optional(),
  configArgs: z.record(z.string(), z.unknown()).optional(),
  prevResult: resultSchema.optional(),
  mtu: z.number().int().min(68).max(65535).optional(),
  dns: dnsSchema.optional(),
}) satisfies z.ZodType<CniRequest>;

export const cniGcRequestSchema = z.strictObject({
  network: z.string().min(1),
  cniVersion: z.string().min(1),
  validAttachments: z.array(z.strictObject({ containerId: z.string(), ifname: z.string() })),
}) satisfies z.ZodType<CniGcRequest>;

/** Parses a body or throws E_BAD_REQUEST naming every bad field. */
export function parseBody<S extends z.ZodType>(
  schema: S,
  body: unknown,
  what: string,
): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => {
    const path = formatPath(i.path.filter((p): p is string | number => typeof p !== "symbol"));
    return `${path || "(body)"}: ${i.message}`;
  });
  throw new FairwayError(AGENT_ERRORS.badRequest, `invalid ${what}: ${problems.join("; ")}`, {
    details: { problems },
  });
}
