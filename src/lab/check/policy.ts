// Policy scenarios of `lab check`: allow/deny cases for NetworkPolicy and
// Fairway's policies (FairwayNetworkPolicy, FairwayClusterwideNetworkPolicy;
// `lab apply` already takes them) arrive with issue 5 (policy enforcement). Each is a
// Scenario like those in scenarios.ts; the runner already runs this list after
// the connectivity scenarios and reports it in the same table. Expected shape:
// apply a policy in the check namespace, probe what it must allow (pass when it
// connects) and what it must deny (pass when it times out or is refused),
// delete the policy.
import type { Scenario } from "./scenarios.ts";

export const POLICY_SCENARIOS: readonly Scenario[] = [];
