/**
 * Brings the host's entry in NodeRegistry to what the node's config and runtime say
 * (stake, hardware, region, endpoints, metadata, and a price per model and token),
 * idempotently: it reads the current entry and sends only the transactions that change
 * something, so a restart with the same config sends none. An unregistered host
 * approves its FAB stake and registers; a paused one is made available again.
 */
import { fabTokenAbi, nodeRegistryAbi } from "../../abis/index.ts";
import type { ChainClient } from "../../protocol/chain-client.ts";
import { hostStatus } from "../../protocol/hosts.ts";
import { type Logger, silentLogger } from "../../protocol/logger.ts";

export interface Offer {
  modelId: `0x${string}`;
  token: `0x${string}`;
  pricePerToken: bigint;
}

/** A model's context window (tokens) as the host advertises it in the registry. */
export interface ModelContext {
  modelId: `0x${string}`;
  contextLength: number;
}

export interface DesiredRegistration {
  stake: bigint;
  hardware: { gpuModel: `0x${string}`; vramMiB: number; gpuCount: number };
  region: `0x${string}`;
  endpoints: { peerId: `0x${string}`; multiaddrs: string[]; httpUrl: string };
  metadataDigest: `0x${string}`;
  offers: Offer[];
  /** The context length of each offered model (renters check prompts against it). */
  contexts: ModelContext[];
}

const offerKey = (modelId: string, token: string) =>
  `${modelId.toLowerCase()}/${token.toLowerCase()}`;

export async function ensureRegistration(
  client: ChainClient,
  registry: `0x${string}`,
  desired: DesiredRegistration,
  logger: Logger = silentLogger,
): Promise<string[]> {
  const log = logger.child({ component: "registration" });
  const me = client.account.address;
  const actions: string[] = [];
  const on = { address: registry, abi: nodeRegistryAbi } as const;
  const fab = await client.read("fab", { ...on, functionName: "fab" });
  const approve = async (amount: bigint) => {
    const allowance = await client.read("allowance", {
      address: fab,
      abi: fabTokenAbi,
      functionName: "allowance",
      args: [me, registry],
    });
    if (allowance >= amount) return;
    await client.send("approve FAB", {
      address: fab,
      abi: fabTokenAbi,
      functionName: "approve",
      args: [registry, amount],
    });
    actions.push("approve FAB");
  };
  const done = (what: string) => actions.push(what);

  const [status, stake] = await client.read("hostState", {
    ...on,
    functionName: "hostState",
    args: [me],
  });
  const wanted = desired.offers.filter((o) => o.pricePerToken > 0n);
  const { contexts, ...registration } = desired;
  const offered = new Set(wanted.map((o) => o.modelId.toLowerCase()));
  const wantedContexts = contexts.filter((c) => offered.has(c.modelId.toLowerCase()));
  if (hostStatus(status) === "Unregistered") {
    await approve(desired.stake);
    await client.send("register", {
      ...on,
      functionName: "register",
      args: [{ ...registration, offers: wanted }],
    });
    done("register");
    if (wantedContexts.length > 0) {
      await client.send("setModelContexts", {
        ...on,
        functionName: "setModelContexts",
        args: [wantedContexts],
      });
      done("setModelContexts");
    }
    log.info({ host: me, actions }, "registered the host");
    return actions;
  }
  if (stake < desired.stake) {
    await approve(desired.stake - stake);
    await client.send("addStake", {
      ...on,
      functionName: "addStake",
      args: [desired.stake - stake],
    });
    done("addStake");
  }
  const profile = await client.read("profileOf", { ...on, functionName: "profileOf", args: [me] });
  const h = profile.hardware;
  if (
    h.gpuModel !== desired.hardware.gpuModel ||
    h.vramMiB !== desired.hardware.vramMiB ||
    h.gpuCount !== desired.hardware.gpuCount
  ) {
    await client.send("updateHardware", {
      ...on,
      functionName: "updateHardware",
      args: [desired.hardware],
    });
    done("updateHardware");
  }
  if (profile.region !== desired.region) {
    await client.send("updateRegion", {
      ...on,
      functionName: "updateRegion",
      args: [desired.region],
    });
    done("updateRegion");
  }
  if (profile.metadataDigest !== desired.metadataDigest) {
    await client.send("updateMetadata", {
      ...on,
      functionName: "updateMetadata",
      args: [desired.metadataDigest],
    });
    done("updateMetadata");
  }
  const e = profile.endpoints;
  if (
    e.peerId.toLowerCase() !== desired.endpoints.peerId.toLowerCase() ||
    e.httpUrl !== desired.endpoints.httpUrl ||
    e.multiaddrs.join("\n") !== desired.endpoints.multiaddrs.join("\n")
  ) {
    await client.send("updateEndpoints", {
      ...on,
      functionName: "updateEndpoints",
      args: [desired.endpoints],
    });
    done("updateEndpoints");
  }

  // Offers: the current (model, token) prices against the wanted ones; 0 withdraws one.
  const current = new Map<string, Offer>();
  const models = await client.read("modelsOf", { ...on, functionName: "modelsOf", args: [me] });
  for (const modelId of models) {
    const tokens = await client.read("tokensOf", {
      ...on,
      functionName: "tokensOf",
      args: [me, modelId],
    });
    for (const token of tokens) {
      const pricePerToken = await client.read("priceOf", {
        ...on,
        functionName: "priceOf",
        args: [me, modelId, token],
      });
      current.set(offerKey(modelId, token), { modelId, token, pricePerToken });
    }
  }
  const changes: Offer[] = [];
  for (const o of wanted)
    if (current.get(offerKey(o.modelId, o.token))?.pricePerToken !== o.pricePerToken)
      changes.push(o);
  const wantedKeys = new Set(wanted.map((o) => offerKey(o.modelId, o.token)));
  for (const [key, o] of current)
    if (!wantedKeys.has(key)) changes.push({ ...o, pricePerToken: 0n });
  if (changes.length > 0) {
    await client.send("setOffers", { ...on, functionName: "setOffers", args: [changes] });
    done("setOffers");
  }
  // Context lengths of the offered models (after the offers: only offered models take one).
  const contextChanges: ModelContext[] = [];
  for (const c of wantedContexts) {
    const onChain = await client.read("contextLengthOf", {
      ...on,
      functionName: "contextLengthOf",
      args: [me, c.modelId],
    });
    if (onChain !== c.contextLength) contextChanges.push(c);
  }
  if (contextChanges.length > 0) {
    await client.send("setModelContexts", {
      ...on,
      functionName: "setModelContexts",
      args: [contextChanges],
    });
    done("setModelContexts");
  }
  if (hostStatus(status) === "Paused") {
    await client.send("setAvailable", { ...on, functionName: "setAvailable", args: [true] });
    done("setAvailable");
  }
  log.info(
    { host: me, actions },
    actions.length ? "updated the host's registration" : "registration up to date",
  );
  return actions;
}
