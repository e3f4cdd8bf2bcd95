import type { NetworkConnection } from "hardhat/types/network";
import { encodeAbiParameters, keccak256, parseEther, stringToHex, zeroAddress } from "viem";
import LocalDev from "../../ignition/modules/LocalDev.ts";

export const FAB = 10n ** 18n;
export const USD = 10n ** 6n;
export const MIN_STAKE = 1_000n * FAB;
export const DAY = 86_400n;
export const DISPUTE_WINDOW = DAY;
export const UNBONDING = 7n * DAY;

export const MODEL = stringToHex("llama-3.1-8b-q4_k_m", { size: 32 });
export const OTHER_MODEL = stringToHex("smollm-135m", { size: 32 });
export const PROMPT = keccak256(stringToHex("What is the capital of France?"));
export const OUTPUT = keccak256(stringToHex("Paris."));
export const ETH = zeroAddress;

export function offerKey(modelId: `0x${string}`, token: `0x${string}`): `0x${string}` {
  return keccak256(encodeAbiParameters([{ type: "bytes32" }, { type: "address" }], [modelId, token]));
}

export function registration(overrides: Partial<Registration> = {}): Registration {
  return {
    stake: MIN_STAKE,
    hardware: { gpuModel: stringToHex("RTX 4090", { size: 32 }), vramMiB: 24_576, gpuCount: 1 },
    region: stringToHex("eu-west", { size: 32 }),
    endpoints: {
      peerId: "0x00240801122011111111111111111111111111111111111111111111111111111111",
      multiaddrs: ["/ip4/127.0.0.1/tcp/4001"],
      httpUrl: "http://127.0.0.1:8080",
    },
    metadataDigest: keccak256(stringToHex("metadata")),
    offers: [{ modelId: MODEL, token: ETH, pricePerToken: parseEther("0.000001") }],
    ...overrides,
  };
}

export interface Registration {
  stake: bigint;
  hardware: { gpuModel: `0x${string}`; vramMiB: number; gpuCount: number };
  region: `0x${string}`;
  endpoints: { peerId: `0x${string}`; multiaddrs: string[]; httpUrl: string };
  metadataDigest: `0x${string}`;
  offers: { modelId: `0x${string}`; token: `0x${string}`; pricePerToken: bigint }[];
}

/** Deploys the whole system through its proxies (the same Ignition module as production) and funds actors. */
export async function deploySystem(connection: NetworkConnection) {
  const { viem, ignition } = connection;
  const [admin, renter, host, host2, other] = await viem.getWalletClients();
  if (!admin || !renter || !host || !host2 || !other) throw new Error("need 5 accounts");
  const deployed = await ignition.deploy(LocalDev, {
    parameters: { Fabstir: { disputeWindow: DISPUTE_WINDOW, unbondingPeriod: UNBONDING } },
  });
  const fab = await viem.getContractAt("FABToken", deployed.fab.address);
  const escrow = await viem.getContractAt("PaymentEscrow", deployed.escrow.address);
  const registry = await viem.getContractAt("NodeRegistry", deployed.registry.address);
  const marketplace = await viem.getContractAt("JobMarketplace", deployed.marketplace.address);
  const usd = await viem.getContractAt("TestStablecoin", deployed.stablecoin.address);
  for (const h of [host, host2]) {
    await fab.write.transfer([h.account.address, 10_000n * FAB]);
    await fab.write.approve([registry.address, 2n ** 256n - 1n], { account: h.account });
  }
  await usd.write.mint([renter.account.address, 1_000_000n * USD]);
  await usd.write.approve([escrow.address, 2n ** 256n - 1n], { account: renter.account });
  const publicClient = await viem.getPublicClient();
  return { admin, renter, host, host2, other, fab, escrow, registry, marketplace, usd, publicClient };
}

export type System = Awaited<ReturnType<typeof deploySystem>>;

/** A job request with sane defaults: 1000 tokens at up to 2 gwei each, due in one hour. */
export async function jobRequest(sys: System, overrides: Partial<JobRequest> = {}): Promise<JobRequest> {
  const block = await sys.publicClient.getBlock();
  return {
    modelId: MODEL,
    promptHash: PROMPT,
    token: ETH,
    maxTokens: 1_000,
    maxPricePerToken: parseEther("0.000002"),
    deadline: block.timestamp + 3_600n,
    host: zeroAddress,
    ...overrides,
  };
}

export interface JobRequest {
  modelId: `0x${string}`;
  promptHash: `0x${string}`;
  token: `0x${string}`;
  maxTokens: number;
  maxPricePerToken: bigint;
  deadline: bigint;
  host: `0x${string}`;
}

export function depositOf(r: JobRequest): bigint {
  return BigInt(r.maxTokens) * r.maxPricePerToken;
}
