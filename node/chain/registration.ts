/**
 * Brings the host's entry in NodeRegistry to what the node's config and runtime say
 * (stake, hardware, region, endpoints, metadata, and a price per model and token),
 * idempotently: it reads the current entry and sends only the transactions that change
 * something, so a restart with the same config sends none. An unregistered host
 * approves its FAB stake and registers; a paused one is made available again.
 */
import type { Abi } from "viem";
import { fabTokenAbi, HOST_STATUS, nodeRegistryAbi } from "../../abis/index.ts";
import { type Logger, silentLogger } from "../logger.ts";
import type { ChainClient } from "./client.ts";

export interface Offer {
  modelId: `0x${string}`;
  token: `0x${string}`;
  pricePerToken: bigint;
}

export interface DesiredRegistration {
  stake: bigint;
  hardware: { gpuModel: `0x${string}`; vramMiB: number; gpuCount: number };
  region: `0x${string}`;
  endpoints: { peerId: `0x${string}`; multiaddrs: string[]; httpUrl: string };
  metadataDigest: `0x${string}`;
  offers: Offer[];
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
  const read = <T>(
    what: string,
    functionName: string,
    args: readonly unknown[],
    address = registry,
    abi: Abi = nodeRegistryAbi,
  ) =>
    client.read(what, (c) =>
      c.readContract({ address, abi, functionName, args } as Parameters<typeof c.readContract>[0]),
    ) as Promise<T>;
  const call = async (what: string, functionName: string, args: readonly unknown[]) => {
    await client.send(what, { address: registry, abi: nodeRegistryAbi, functionName, args });
    actions.push(what);
  };
  const fab = await read<`0x${string}`>("fab", "fab", []);
  const approve = async (amount: bigint) => {
    const allowance = await read<bigint>(
      "allowance",
      "allowance",
      [me, registry],
      fab,
      fabTokenAbi,
    );
    if (allowance >= amount) return;
    await client.send("approve FAB", {
      address: fab,
      abi: fabTokenAbi,
      functionName: "approve",
      args: [registry, amount],
    });
    actions.push("approve FAB");
  };

  const [status, stake] = await read<readonly [number, bigint, bigint, bigint, bigint]>(
    "hostState",
    "hostState",
    [me],
  );
  const wanted = desired.offers.filter((o) => o.pricePerToken > 0n);
  if (HOST_STATUS[status] === "Unregistered") {
    await approve(desired.stake);
    await call("register", "register", [{ ...desired, offers: wanted }]);
    log.info({ host: me, actions }, "registered the host");
    return actions;
  }
  if (stake < desired.stake) {
    await approve(desired.stake - stake);
    await call("addStake", "addStake", [desired.stake - stake]);
  }
  const profile = await read<{
    hardware: DesiredRegistration["hardware"];
    region: `0x${string}`;
    metadataDigest: `0x${string}`;
    endpoints: DesiredRegistration["endpoints"];
  }>("profileOf", "profileOf", [me]);
  const h = profile.hardware;
  if (
    h.gpuModel !== desired.hardware.gpuModel ||
    h.vramMiB !== desired.hardware.vramMiB ||
    h.gpuCount !== desired.hardware.gpuCount
  )
    await call("updateHardware", "updateHardware", [desired.hardware]);
  if (profile.region !== desired.region)
    await call("updateRegion", "updateRegion", [desired.region]);
  if (profile.metadataDigest !== desired.metadataDigest)
    await call("updateMetadata", "updateMetadata", [desired.metadataDigest]);
  const e = profile.endpoints;
  if (
    e.peerId.toLowerCase() !== desired.endpoints.peerId.toLowerCase() ||
    e.httpUrl !== desired.endpoints.httpUrl ||
    e.multiaddrs.join("\n") !== desired.endpoints.multiaddrs.join("\n")
  )
    await call("updateEndpoints", "updateEndpoints", [desired.endpoints]);

  // Offers: the current (model, token) prices against the wanted ones; 0 withdraws one.
  const current = new Map<string, Offer>();
  for (const modelId of await read<`0x${string}`[]>("modelsOf", "modelsOf", [me]))
    for (const token of await read<`0x${string}`[]>("tokensOf", "tokensOf", [me, modelId])) {
      const pricePerToken = await read<bigint>("priceOf", "priceOf", [me, modelId, token]);
      current.set(offerKey(modelId, token), { modelId, token, pricePerToken });
    }
  const changes: Offer[] = [];
  for (const o of wanted)
    if (current.get(offerKey(o.modelId, o.token))?.pricePerToken !== o.pricePerToken)
      changes.push(o);
  const wantedKeys = new Set(wanted.map((o) => offerKey(o.modelId, o.token)));
  for (const [key, o] of current)
    if (!wantedKeys.has(key)) changes.push({ ...o, pricePerToken: 0n });
  if (changes.length > 0) await call("setOffers", "setOffers", [changes]);
  if (HOST_STATUS[status] === "Paused") await call("setAvailable", "setAvailable", [true]);
  log.info(
    { host: me, actions },
    actions.length ? "updated the host's registration" : "registration up to date",
  );
  return actions;
}
