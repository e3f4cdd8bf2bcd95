import type { NetworkConnection } from "hardhat/types/network";
import {
  encodeAbiParameters,
  getAddress,
  keccak256,
  parseEther,
  parseSignature,
  stringToHex,
  zeroAddress,
} from "viem";
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
  return keccak256(
    encodeAbiParameters([{ type: "bytes32" }, { type: "address" }], [modelId, token]),
  );
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
  return {
    admin,
    renter,
    host,
    host2,
    other,
    fab,
    escrow,
    registry,
    marketplace,
    usd,
    publicClient,
  };
}

export type System = Awaited<ReturnType<typeof deploySystem>>;

/** A job request with sane defaults: 1000 tokens at up to 2 gwei each, due in one hour. */
export async function jobRequest(
  sys: System,
  overrides: Partial<JobRequest> = {},
): Promise<JobRequest> {
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

// ---------------------------------------------------------------- shared helpers (added for the
// registry, token and upgrade tests; nothing above changed)

/** The ERC-1967 implementation slot: bytes32(uint256(keccak256("eip1967.proxy.implementation")) - 1). */
export const IMPLEMENTATION_SLOT =
  "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc" as const;

/** The implementation address a FabstirProxy (ERC-1967) currently points to. */
export async function implementationOf(
  sys: Pick<System, "publicClient">,
  proxy: `0x${string}`,
): Promise<`0x${string}`> {
  const word = await sys.publicClient.getStorageAt({ address: proxy, slot: IMPLEMENTATION_SLOT });
  if (word === undefined) throw new Error(`no implementation slot at ${proxy}`);
  return getAddress(`0x${word.slice(-40)}`);
}

/**
 * Signs an EIP-2612 permit of `owner` for `spender` on `token` (FAB or tUSD). The domain is
 * built from first principles: name() of the token, version "1", the chain id and the token.
 */
export async function signPermit(
  token: System["fab"] | System["usd"],
  owner: System["host"],
  spender: `0x${string}`,
  value: bigint,
  deadline: bigint,
): Promise<{ v: number; r: `0x${string}`; s: `0x${string}` }> {
  const signature = await owner.signTypedData({
    account: owner.account,
    domain: {
      name: await token.read.name(),
      version: "1",
      chainId: await owner.getChainId(),
      verifyingContract: token.address,
    },
    types: {
      Permit: [
        { name: "owner", type: "address" },
        { name: "spender", type: "address" },
        { name: "value", type: "uint256" },
        { name: "nonce", type: "uint256" },
        { name: "deadline", type: "uint256" },
      ],
    },
    primaryType: "Permit",
    message: {
      owner: owner.account.address,
      spender,
      value,
      nonce: await token.read.nonces([owner.account.address]),
      deadline,
    },
  });
  const { r, s, v, yParity } = parseSignature(signature);
  return { v: Number(v ?? BigInt(yParity + 27)), r, s };
}

/** Registers `host` in the NodeRegistry with `registration(overrides)` and returns it. */
export async function registerHost(
  sys: System,
  host: System["host"],
  overrides: Partial<Registration> = {},
): Promise<Registration> {
  const r = registration(overrides);
  await sys.registry.write.register([r], { account: host.account });
  return r;
}

/** Posts a job (ETH by default, deposit sent as value) from `renter`; returns its id and request. */
export async function postJob(
  sys: System,
  overrides: Partial<JobRequest> = {},
  renter: System["renter"] = sys.renter,
): Promise<{ jobId: bigint; request: JobRequest }> {
  const request = await jobRequest(sys, overrides);
  const jobId = await sys.marketplace.read.nextJobId();
  await sys.marketplace.write.postJob([request], {
    account: renter.account,
    value: request.token === ETH ? depositOf(request) : 0n,
  });
  return { jobId, request };
}

/**
 * Deploys a FabstirProxy over `implementation` whose constructor delegatecalls `initData` (an
 * encoded initialize call; OpenZeppelin 5.7's ERC1967Proxy refuses empty data). Returns the
 * proxy address and the deployment transaction's hash (for event assertions).
 */
export async function deployProxy(
  connection: NetworkConnection,
  implementation: `0x${string}`,
  initData: `0x${string}`,
): Promise<{ address: `0x${string}`; hash: `0x${string}` }> {
  const { contract, deploymentTransaction } = await connection.viem.sendDeploymentTransaction(
    "FabstirProxy",
    [implementation, initData],
  );
  return { address: contract.address, hash: deploymentTransaction.hash };
}
