/** NodeRegistry: hosts, their models (with context lengths), offers and stake. */
import type { Context } from "ponder:registry";
import { host, hostModel, hostOffer, hostReputation, model, registryConfig } from "ponder:schema";
import { nodeRegistryAbi } from "../../abis/index.ts";
import { reputation } from "../../protocol/reputation.ts";
import { bumpDaily, bumpModel, updateHost } from "./lib/host-stats.ts";
import { indexContract } from "./lib/index-contract.ts";
import { NEUTRAL_SCORE } from "./lib/reputation.ts";
import { bytes32ToText, HOST_STATUS } from "./lib/values.ts";

const CONFIG_ID = "NodeRegistry";
/** The largest context length a Postgres integer holds (the contract takes a uint32). */
const MAX_CONTEXT_LENGTH = 2 ** 31 - 1;

/** Upserts one parameter of the registry (initialize emits the minimum and the unbonding period first). */
async function setConfig(
  db: Context["db"],
  at: bigint,
  change: {
    minimumStake?: bigint;
    unbondingPeriod?: bigint;
    jobMarketplace?: `0x${string}`;
    claimsPerMinimumStake?: number;
    modelCatalog?: `0x${string}`;
  },
): Promise<void> {
  await db
    .insert(registryConfig)
    .values({ id: CONFIG_ID, minimumStake: 0n, unbondingPeriod: 0n, ...change, updatedAt: at })
    .onConflictDoUpdate({ ...change, updatedAt: at });
}

indexContract("NodeRegistry", nodeRegistryAbi, {
  MinimumStakeUpdated: async ({ event, context }) => {
    await setConfig(context.db, event.block.timestamp, { minimumStake: event.args.current });
  },
  UnbondingPeriodUpdated: async ({ event, context }) => {
    await setConfig(context.db, event.block.timestamp, { unbondingPeriod: event.args.current });
  },
  JobMarketplaceUpdated: async ({ event, context }) => {
    await setConfig(context.db, event.block.timestamp, { jobMarketplace: event.args.current });
  },
  ModelCatalogUpdated: async ({ event, context }) => {
    await setConfig(context.db, event.block.timestamp, { modelCatalog: event.args.current });
  },
  ClaimsPerMinimumStakeUpdated: async ({ event, context }) => {
    await setConfig(context.db, event.block.timestamp, {
      claimsPerMinimumStake: event.args.current,
    });
  },
  HostRegistered: async ({ event, context }) => {
    const { host: address, stake, hardware, region, metadataDigest } = event.args;
    const at = event.block.timestamp;
    const existing = await context.db.find(host, { address });
    const profile = {
      status: "Active" as const,
      stake,
      gpuModel: bytes32ToText(hardware.gpuModel),
      vramMiB: hardware.vramMiB,
      gpuCount: hardware.gpuCount,
      region: bytes32ToText(region),
      metadataDigest,
      registeredAt: at,
      updatedAt: at,
    };
    if (existing) {
      // The on-chain score stays: the ReputationSystem keeps a host's record across registrations.
      const { score: indexerScore } = reputation({ ...existing, stake, at });
      await context.db.update(host, { address }).set({ ...profile, indexerScore });
      return;
    }
    const counters = {
      unbonding: 0n,
      slashed: 0n,
      jobsClaimed: 0,
      jobsCompleted: 0,
      jobsSettled: 0,
      jobsExpired: 0,
      jobsRefused: 0,
      jobsDisputed: 0,
      disputesLost: 0,
      tokensServed: 0n,
      completionSecondsTotal: 0n,
      sessionsOpened: 0,
      sessionsSettled: 0,
      sessionsServed: 0,
      sessionTokensServed: 0n,
    };
    const { score: indexerScore } = reputation({ ...counters, stake, firstRegisteredAt: at, at });
    // A host without a reputation event yet has the contract's neutral score.
    const record = await context.db.find(hostReputation, { host: address });
    await context.db.insert(host).values({
      address,
      ...profile,
      ...counters,
      firstRegisteredAt: at,
      score: record?.score ?? NEUTRAL_SCORE,
      scoreAt: record?.scoreAt ?? at,
      indexerScore,
    });
    await bumpDaily(context.db, at, (d) => ({ newHosts: d.newHosts + 1 }));
  },
  HostDeregistered: async ({ event, context }) => {
    const { host: address, unbonding, releaseAt } = event.args;
    await updateHost(context.db, address, event.block.timestamp, () => ({
      status: "Unregistered",
      stake: 0n,
      unbonding,
      unbondingReleaseAt: releaseAt,
    }));
  },
  HostStatusUpdated: async ({ event, context }) => {
    const status = HOST_STATUS[event.args.status] ?? "Unregistered";
    await updateHost(context.db, event.args.host, event.block.timestamp, () => ({ status }));
  },
  HostHardwareUpdated: async ({ event, context }) => {
    const { gpuModel, vramMiB, gpuCount } = event.args.hardware;
    await updateHost(context.db, event.args.host, event.block.timestamp, () => ({
      gpuModel: bytes32ToText(gpuModel),
      vramMiB,
      gpuCount,
    }));
  },
  HostRegionUpdated: async ({ event, context }) => {
    const region = bytes32ToText(event.args.region);
    await updateHost(context.db, event.args.host, event.block.timestamp, () => ({ region }));
  },
  HostEndpointsUpdated: async ({ event, context }) => {
    const { peerId, multiaddrs, httpUrl } = event.args;
    await updateHost(context.db, event.args.host, event.block.timestamp, () => ({
      peerId,
      multiaddrs: [...multiaddrs],
      httpUrl,
    }));
  },
  HostMetadataUpdated: async ({ event, context }) => {
    const { metadataDigest } = event.args;
    await updateHost(context.db, event.args.host, event.block.timestamp, () => ({
      metadataDigest,
    }));
  },
  ModelAdded: async ({ event, context }) => {
    const { host: address, modelId: id } = event.args;
    const at = event.block.timestamp;
    await bumpModel(context.db, id, (m) => ({ hostCount: m.hostCount + 1 }));
    // A re-added model starts without a context length, as in the registry.
    await context.db
      .insert(hostModel)
      .values({ host: address, modelId: id, contextLength: null, addedAt: at, updatedAt: at })
      .onConflictDoUpdate({ contextLength: null, addedAt: at, updatedAt: at });
  },
  ModelContextUpdated: async ({ event, context }) => {
    const { host: address, modelId, contextLength } = event.args;
    const existing = await context.db.find(hostModel, { host: address, modelId });
    if (!existing) return;
    await context.db.update(hostModel, { host: address, modelId }).set({
      // 0 means cleared (the model is being removed, or the host deregisters).
      contextLength: contextLength === 0 ? null : Math.min(contextLength, MAX_CONTEXT_LENGTH),
      updatedAt: event.block.timestamp,
    });
  },
  ModelRemoved: async ({ event, context }) => {
    const { host: address, modelId } = event.args;
    await context.db.update(model, { id: modelId }).set((m) => ({ hostCount: m.hostCount - 1 }));
    await context.db.delete(hostModel, { host: address, modelId });
    // The registry drops every price of a removed model without a PriceUpdated per token.
    const offers = await context.db.sql.query.hostOffer.findMany({
      where: (o, { and, eq }) => and(eq(o.host, address), eq(o.modelId, modelId)),
    });
    for (const o of offers) {
      await context.db.delete(hostOffer, { host: address, modelId, token: o.token });
    }
  },
  PriceUpdated: async ({ event, context }) => {
    const { host: address, modelId, token, pricePerToken } = event.args;
    if (pricePerToken === 0n) {
      await context.db.delete(hostOffer, { host: address, modelId, token });
      return;
    }
    const updatedAt = event.block.timestamp;
    await context.db
      .insert(hostOffer)
      .values({ host: address, modelId, token, pricePerToken, updatedAt })
      .onConflictDoUpdate({ pricePerToken, updatedAt });
  },
  StakeAdded: async ({ event, context }) => {
    const { stake } = event.args;
    await updateHost(context.db, event.args.host, event.block.timestamp, () => ({ stake }));
  },
  UnstakeRequested: async ({ event, context }) => {
    const { stake, unbonding, releaseAt } = event.args;
    await updateHost(context.db, event.args.host, event.block.timestamp, () => ({
      stake,
      unbonding,
      unbondingReleaseAt: releaseAt,
    }));
  },
  UnstakeWithdrawn: async ({ event, context }) => {
    await updateHost(context.db, event.args.host, event.block.timestamp, () => ({
      unbonding: 0n,
      unbondingReleaseAt: null,
    }));
  },
  HostSlashed: async ({ event, context }) => {
    const { amount, stake, unbonding } = event.args;
    await updateHost(context.db, event.args.host, event.block.timestamp, (h) => ({
      stake,
      unbonding,
      slashed: h.slashed + amount,
    }));
  },
});
