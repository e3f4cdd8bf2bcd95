/**
 * The hosts the marketplace would let claim a job, as the registry's checkEligible decides
 * before any price check: status Active and stake at least the current minimum stake.
 * Join `registryConfig` on this condition to keep only eligible hosts.
 */
import { host, registryConfig } from "ponder:schema";
import { and, eq, gte } from "ponder";

export const REGISTRY_CONFIG_ID = "NodeRegistry";

export const eligibleHost = and(
  eq(registryConfig.id, REGISTRY_CONFIG_ID),
  eq(host.status, "Active"),
  gte(host.stake, registryConfig.minimumStake),
);
