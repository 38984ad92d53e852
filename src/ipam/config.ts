// IPAM's config slice: schema, validation (one error listing every problem),
// frozen result. Also reads pod CIDRs off a Kubernetes Node object.

import { isAbsolute } from "node:path";
import { z } from "zod";
import { FairwayError } from "../base/errors.ts";
import { type Cidr, cidrsOverlap, parseCidr } from "./cidr.ts";
import type { Durability } from "./db.ts";
import { IpamCode } from "./errors.ts";

export const ipamConfigSchema = z.strictObject({
  /** The node's pod CIDRs, at most a few per family; IPv4 is used first. */
  podCIDRs: z.array(z.string()).max(8),
  /** This node's name: with no podCIDRs, they come from the Node object's spec.podCIDRs. */
  nodeName: z.string().min(1).optional(),
  /** Absolute directory of the state database (fairway.db). */
  stateDir: z.string().min(1),
  /** Power-loss durability of commits (see db.ts). Default "process". */
  durability: z.enum(["process", "power"]).default("process"),
});

export interface IpamConfig {
  /** Canonical text, in the order given. */
  /** Empty: read from the Node object `nodeName` at start. */
  readonly podCIDRs: readonly string[];
  readonly nodeName: string | undefined;
  readonly stateDir: string;
  readonly durability: Durability;
}

/** Validates the slice; throws one E_IPAM_BAD_CONFIG that lists every problem. */
export function parseIpamConfig(raw: unknown): IpamConfig {
  const problems: string[] = [];
  const parsed = ipamConfigSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const at = issue.path.length > 0 ? `ipam.${issue.path.join(".")}` : "ipam";
      problems.push(`${at}: ${issue.message}`);
    }
    throw configError(problems);
  }
  const { podCIDRs, nodeName, stateDir, durability } = parsed.data;
  if (!isAbsolute(stateDir)) problems.push(`ipam.stateDir: "${stateDir}" must be an absolute path`);
  if (podCIDRs.length === 0 && !nodeName) {
    problems.push(
      "ipam.podCIDRs: empty, and no nodeName whose Node object could give spec.podCIDRs",
    );
  }
  const cidrs = parsePodCidrs(podCIDRs, problems);
  if (problems.length > 0) throw configError(problems);
  return Object.freeze({
    podCIDRs: Object.freeze(cidrs.map((c) => c.text)),
    nodeName,
    stateDir,
    durability,
  });
}

/** Parses pod CIDRs, appending a line per problem (bad syntax, overlap, duplicate). */
export function parsePodCidrs(texts: readonly string[], problems: string[]): Cidr[] {
  const cidrs: Cidr[] = [];
  texts.forEach((text, i) => {
    try {
      const c = parseCidr(text);
      const clash = cidrs.find((o) => cidrsOverlap(o, c));
      if (clash) problems.push(`ipam.podCIDRs.${i}: ${c.text} overlaps ${clash.text}`);
      else cidrs.push(c);
    } catch (err) {
      problems.push(`ipam.podCIDRs.${i}: ${(err as Error).message}`);
    }
  });
  return cidrs;
}

/** Parses already-validated CIDR texts (from a frozen IpamConfig). */
export function poolCidrs(podCIDRs: readonly string[]): Cidr[] {
  return podCIDRs.map((t) => parseCidr(t));
}

/** A Kubernetes Node, only the fields IPAM reads. */
export interface NodeLike {
  metadata?: { name?: string };
  spec?: { podCIDR?: string; podCIDRs?: string[] };
}

/**
 * The pod CIDRs the control plane gave this node: spec.podCIDRs, else the legacy
 * spec.podCIDR. Throws E_IPAM_BAD_CONFIG when there are none or one is invalid.
 */
export function podCidrsFromNode(node: NodeLike): string[] {
  const name = node.metadata?.name ?? "(unnamed)";
  const list = node.spec?.podCIDRs?.length
    ? node.spec.podCIDRs
    : node.spec?.podCIDR
      ? [node.spec.podCIDR]
      : [];
  if (list.length === 0) {
    throw new FairwayError(
      IpamCode.badConfig,
      `node ${name} has no spec.podCIDRs: enable --allocate-node-cidrs on the controller manager, or set ipam.podCIDRs`,
      { details: { node: name } },
    );
  }
  const problems: string[] = [];
  const cidrs = parsePodCidrs(list, problems);
  if (problems.length > 0) throw configError(problems.map((p) => `node ${name}: ${p}`));
  return cidrs.map((c) => c.text);
}

function configError(problems: string[]): FairwayError {
  return new FairwayError(IpamCode.badConfig, `invalid IPAM config:\n  ${problems.join("\n  ")}`, {
    details: { problems },
  });
}
