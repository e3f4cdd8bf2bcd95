/**
 * Generates a realistic marketplace history on a local chain, fast: many hosts register,
 * jobs go through every terminal path (accepted, auto-released, cancelled, expired after a
 * claim, expired unclaimed, disputed and resolved), hosts update their profiles and
 * withdraw, and the admin touches every parameter, so that every event type of the four
 * contracts is emitted. Used by the indexer tests (backfill, crash recovery) and the
 * benchmarks under bench/.
 *
 * Speed comes from sending many transactions per block: automine is switched off, each
 * step's transactions are sent in one JSON-RPC batch (eth_sendTransaction from the node's
 * unlocked dev accounts and impersonated host accounts, so nothing is signed here), then
 * blocks are mined one by one with evm_mine until every receipt exists. Every receipt is
 * checked: a reverted transaction fails the generation with its label.
 */
import {
  type Abi,
  type Address,
  createClient,
  encodeFunctionData,
  type Hex,
  http,
  keccak256,
  maxUint256,
  numberToHex,
  stringToHex,
  zeroAddress,
} from "viem";
import { mnemonicToAccount } from "viem/accounts";
import {
  fabTokenAbi,
  jobMarketplaceAbi,
  nodeRegistryAbi,
  paymentEscrowAbi,
  testStablecoinAbi,
} from "../../abis/index.ts";
import type { LocalChain } from "./local-chain.ts";

const MNEMONIC = "test test test test test test test test test test test junk";
export const HISTORY_MODEL = stringToHex("llama-3.1-8b", { size: 32 });
const OTHER_MODEL = stringToHex("smollm-135m", { size: 32 });
const FAB = 10n ** 18n;
const HOST_STAKE = 2_000n * FAB;
const ETH_PRICE = 1_000_000_000_000n; // wei per token
const USD_PRICE = 2n; // tUSD base units per token
const MAX_TOKENS = 1_000;
const DAY = 86_400;

/** What happens to job `id` (by id modulo 10). */
export type JobFate =
  | "accepted"
  | "autoReleased"
  | "cancelled"
  | "expiredClaimed"
  | "expiredPosted"
  | "resolved";
export function fateOf(id: number): JobFate {
  const k = id % 10;
  if (k <= 4) return "accepted";
  if (k === 5) return "autoReleased";
  if (k === 6) return "cancelled";
  if (k === 7) return "expiredClaimed";
  if (k === 8) return "resolved";
  return "expiredPosted";
}
/** Every third job pays in the test stablecoin, the rest in ETH. */
export const paysInStablecoin = (id: number) => id % 3 === 0;
/** Tokens the host reports for job `id`. */
export const tokensUsedOf = (id: number) => 100 + (id % 900);
/** The arbiter's host share for a resolved job: 0, 50% or 100%. */
export const hostBpsOf = (id: number) => [0, 5_000, 10_000][Math.floor(id / 10) % 3] ?? 0;

export interface HistoryOptions {
  hosts: number;
  jobs: number;
  /** Jobs per round (each round is about five blocks). */
  jobsPerRound?: number;
  /** Hosts registered per block during setup. */
  hostsPerBlock?: number;
  /** Leave this many hosts staked below the minimum at the end (they stay Active). */
  underStaked?: number;
  /** Deregister this many hosts at the end. */
  deregistered?: number;
  onProgress?: (what: string) => void;
}

export interface History {
  hosts: Address[];
  /** Hosts whose stake ends below the minimum (still Active in the registry). */
  underStakedHosts: Address[];
  deregisteredHosts: Address[];
  jobs: number;
  transactions: number;
  /** Logs emitted by the four indexed contracts. */
  events: number;
  firstBlock: bigint;
  lastBlock: bigint;
}

interface Tx {
  label: string;
  from: Address;
  to: Address;
  data: Hex;
  value?: bigint;
  gas: bigint;
}

export function hostAddress(i: number): Address {
  return `0x${keccak256(stringToHex(`fabstir-history-host-${i}`)).slice(-40)}` as Address;
}

export async function generateHistory(chain: LocalChain, opts: HistoryOptions): Promise<History> {
  const { FABToken, NodeRegistry, JobMarketplace, PaymentEscrow } = chain.addresses;
  const indexed = new Set(
    [FABToken, NodeRegistry, JobMarketplace, PaymentEscrow].map((a) => a.toLowerCase()),
  );
  const tusd = chain.stablecoin;
  const client = createClient({
    transport: http(chain.url, { batch: { batchSize: 1_000, wait: 0 }, timeout: 300_000 }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: raw JSON-RPC, including Hardhat's own methods
  const rpc = (method: string, params: unknown[] = []): Promise<any> =>
    client.request({ method, params } as never);

  const admin = mnemonicToAccount(MNEMONIC, { addressIndex: 0 }).address;
  const renters = Array.from(
    { length: 10 },
    (_, i) => mnemonicToAccount(MNEMONIC, { addressIndex: 10 + i }).address,
  );
  const hosts = Array.from({ length: opts.hosts }, (_, i) => hostAddress(i));
  const round = opts.jobsPerRound ?? 100;
  const hostsPerBlock = opts.hostsPerBlock ?? 20;
  let transactions = 0;
  let events = 0;

  const call = (
    label: string,
    from: Address,
    to: Address,
    abi: Abi,
    functionName: string,
    args: readonly unknown[],
    gas = 400_000n,
    value = 0n,
  ): Tx => ({
    label,
    from,
    to,
    data: encodeFunctionData({ abi, functionName, args } as never),
    gas,
    value,
  });

  /** Sends `txs` (in order, per sender) and mines until all are in; throws on any revert. */
  async function step(txs: Tx[]): Promise<void> {
    if (txs.length === 0) return;
    const hashes: Hex[] = await Promise.all(
      txs.map((t) =>
        rpc("eth_sendTransaction", [
          {
            from: t.from,
            to: t.to,
            data: t.data,
            gas: numberToHex(t.gas),
            value: numberToHex(t.value ?? 0n),
          },
        ]),
      ),
    );
    const receipts: ({ status: Hex; logs: { address: string }[] } | null)[] = hashes.map(
      () => null,
    );
    for (let tries = 0; receipts.some((r) => r === null); tries++) {
      if (tries > 1_000) throw new Error("transactions never mined");
      await rpc("evm_mine");
      const missing = receipts.flatMap((r, i) => (r === null ? [i] : []));
      const fetched = await Promise.all(
        missing.map((i) => rpc("eth_getTransactionReceipt", [hashes[i]])),
      );
      missing.forEach((i, j) => {
        receipts[i] = fetched[j] ?? null;
      });
    }
    receipts.forEach((r, i) => {
      if (r?.status !== "0x1") throw new Error(`transaction reverted: ${txs[i]?.label}`);
      events += r.logs.filter((l) => indexed.has(l.address.toLowerCase())).length;
    });
    transactions += txs.length;
  }

  const firstBlock = BigInt(await rpc("eth_blockNumber")) + 1n;
  await rpc("evm_setAutomine", [false]);
  try {
    // ---- setup: renters get tUSD; hosts get ETH, FAB and register with ETH and tUSD prices.
    opts.onProgress?.("setup");
    await step(
      renters.flatMap((r) => [
        call("mint tUSD", r, tusd, testStablecoinAbi, "mint", [r, 10n ** 15n], 100_000n),
        call("approve escrow", r, tusd, testStablecoinAbi, "approve", [PaymentEscrow, maxUint256]),
      ]),
    );
    await Promise.all(
      hosts.flatMap((h) => [
        rpc("hardhat_impersonateAccount", [h]),
        rpc("hardhat_setBalance", [h, numberToHex(10n ** 21n)]),
      ]),
    );
    for (let i = 0; i < hosts.length; i += hostsPerBlock * 5) {
      const chunk = hosts.slice(i, i + hostsPerBlock * 5);
      await step(
        chunk.map((h) =>
          call(
            "fund host",
            admin,
            FABToken,
            fabTokenAbi,
            "transfer",
            [h, 2n * HOST_STAKE],
            100_000n,
          ),
        ),
      );
      await step(
        chunk.map((h) =>
          call("approve registry", h, FABToken, fabTokenAbi, "approve", [NodeRegistry, maxUint256]),
        ),
      );
    }
    for (let i = 0; i < hosts.length; i += hostsPerBlock) {
      opts.onProgress?.(`registering hosts ${i}/${hosts.length}`);
      await step(
        hosts.slice(i, i + hostsPerBlock).map((h, j) => {
          const n = i + j;
          return call(
            "register",
            h,
            NodeRegistry,
            nodeRegistryAbi,
            "register",
            [
              {
                stake: HOST_STAKE,
                hardware: {
                  gpuModel: stringToHex(["RTX 4090", "H100 SXM", "A100 80GB"][n % 3] ?? "", {
                    size: 32,
                  }),
                  vramMiB: [24_576, 81_920, 81_920][n % 3] ?? 0,
                  gpuCount: 1 + (n % 4),
                },
                region: stringToHex(["eu-west", "us-east", "ap-south"][n % 3] ?? "", { size: 32 }),
                endpoints: {
                  peerId: keccak256(stringToHex(`peer-${n}`)),
                  multiaddrs: [`/ip4/127.0.0.1/tcp/${4_000 + (n % 60_000)}`],
                  httpUrl: `http://127.0.0.1:${8_000 + (n % 50_000)}`,
                },
                metadataDigest: keccak256(stringToHex(`metadata-${n}`)),
                offers: [
                  {
                    modelId: HISTORY_MODEL,
                    token: zeroAddress,
                    pricePerToken: ETH_PRICE - BigInt(n % 100) * 1_000_000_000n,
                  },
                  { modelId: HISTORY_MODEL, token: tusd, pricePerToken: USD_PRICE },
                ],
              },
            ],
            1_500_000n,
          );
        }),
      );
    }

    // ---- admin: every parameter once (same values back), pauses, roles, delegation.
    opts.onProgress?.("admin");
    const adminCalls: Tx[] = [
      call("fee split", admin, PaymentEscrow, paymentEscrowAbi, "setFeeSplit", [8_500, 1_000, 500]),
      call("allow tUSD", admin, PaymentEscrow, paymentEscrowAbi, "setTokenAllowed", [tusd, true]),
      call("treasury", admin, PaymentEscrow, paymentEscrowAbi, "setTreasury", [admin]),
      call("stakers", admin, PaymentEscrow, paymentEscrowAbi, "setStakersPool", [admin]),
      call("marketplace", admin, PaymentEscrow, paymentEscrowAbi, "setMarketplace", [
        JobMarketplace,
      ]),
      call("window", admin, JobMarketplace, jobMarketplaceAbi, "setDisputeWindow", [DAY]),
      call("minimum", admin, NodeRegistry, nodeRegistryAbi, "setMinimumStake", [1_000n * FAB]),
      call("unbonding", admin, NodeRegistry, nodeRegistryAbi, "setUnbondingPeriod", [7 * DAY]),
      call("market", admin, NodeRegistry, nodeRegistryAbi, "setJobMarketplace", [JobMarketplace]),
      call("slasher", admin, NodeRegistry, nodeRegistryAbi, "grantRole", [
        keccak256(stringToHex("SLASHER_ROLE")),
        admin,
      ]),
      call("arbiter", admin, JobMarketplace, jobMarketplaceAbi, "grantRole", [
        keccak256(stringToHex("ARBITER_ROLE")),
        renters[0],
      ]),
      call("no arbiter", admin, JobMarketplace, jobMarketplaceAbi, "revokeRole", [
        keccak256(stringToHex("ARBITER_ROLE")),
        renters[0],
      ]),
      call("delegate", admin, FABToken, fabTokenAbi, "delegate", [admin]),
    ];
    for (const [to, abi] of [
      [FABToken, fabTokenAbi],
      [NodeRegistry, nodeRegistryAbi],
      [JobMarketplace, jobMarketplaceAbi],
      [PaymentEscrow, paymentEscrowAbi],
    ] as const) {
      adminCalls.push(call("pause", admin, to, abi, "pause", []));
      adminCalls.push(call("unpause", admin, to, abi, "unpause", []));
    }
    await step(adminCalls);

    // ---- jobs, in rounds of `round`: post; claim/cancel; complete; accept/dispute; resolve.
    const start = BigInt((await rpc("eth_getBlockByNumber", ["latest", false])).timestamp);
    const deadline = start + BigInt(DAY) / 2n; // all rounds finish well before it
    const renterOf = (id: number) => renters[id % renters.length] as Address;
    const hostOf = (id: number) => hosts[id % hosts.length] as Address;
    for (let first = 1; first <= opts.jobs; first += round) {
      opts.onProgress?.(`jobs ${first - 1}/${opts.jobs}`);
      const ids = Array.from(
        { length: Math.min(round, opts.jobs - first + 1) },
        (_, i) => first + i,
      );
      const m = (
        label: string,
        from: Address,
        fn: string,
        args: readonly unknown[],
        gas?: bigint,
      ) => call(label, from, JobMarketplace, jobMarketplaceAbi, fn, args, gas);
      await step(
        ids.map((id) => {
          const usd = paysInStablecoin(id);
          const maxPrice = usd ? USD_PRICE : ETH_PRICE;
          const request = {
            modelId: HISTORY_MODEL,
            promptHash: keccak256(stringToHex(`prompt-${id}`)),
            token: usd ? tusd : zeroAddress,
            maxTokens: MAX_TOKENS,
            maxPricePerToken: maxPrice,
            deadline,
            // Every fourth job names its host; the rest are open to any eligible host.
            host: id % 4 === 0 ? hostOf(id) : zeroAddress,
          };
          return call(
            `post ${id}`,
            renterOf(id),
            JobMarketplace,
            jobMarketplaceAbi,
            "postJob",
            [request],
            400_000n,
            usd ? 0n : BigInt(MAX_TOKENS) * maxPrice,
          );
        }),
      );
      await step(
        ids.flatMap((id) => {
          const fate = fateOf(id);
          if (fate === "expiredPosted") return [];
          if (fate === "cancelled") return [m(`cancel ${id}`, renterOf(id), "cancelJob", [id])];
          return [m(`claim ${id}`, hostOf(id), "claimJob", [id])];
        }),
      );
      await step(
        ids.flatMap((id) =>
          ["accepted", "autoReleased", "resolved"].includes(fateOf(id))
            ? [
                m(`complete ${id}`, hostOf(id), "completeJob", [
                  id,
                  keccak256(stringToHex(`output-${id}`)),
                  tokensUsedOf(id),
                ]),
              ]
            : [],
        ),
      );
      await step(
        ids.flatMap((id) => {
          const fate = fateOf(id);
          if (fate === "accepted") return [m(`accept ${id}`, renterOf(id), "acceptJob", [id])];
          if (fate === "resolved")
            return [m(`dispute ${id}`, renterOf(id), "disputeJob", [id, keccak256("0x01")])];
          return [];
        }),
      );
      // Resolutions, and a few hosts maintain their profiles and withdraw earnings.
      const maintainers = hosts.slice(0, Math.min(hosts.length, 5));
      const r = (first - 1) / round;
      await step([
        ...ids
          .filter((id) => fateOf(id) === "resolved")
          .map((id) => m(`resolve ${id}`, admin, "resolveDispute", [id, hostBpsOf(id)])),
        ...maintainers.flatMap((h, i) => {
          const reg = (label: string, fn: string, args: readonly unknown[]) =>
            call(label, h, NodeRegistry, nodeRegistryAbi, fn, args);
          const n = r * maintainers.length + i;
          return [
            reg("unavailable", "setAvailable", [false]),
            reg("available", "setAvailable", [true]),
            reg("region", "updateRegion", [
              stringToHex(n % 2 ? "eu-west" : "eu-north", { size: 32 }),
            ]),
            reg("hardware", "updateHardware", [
              {
                gpuModel: stringToHex("RTX 4090", { size: 32 }),
                vramMiB: 24_576,
                gpuCount: 1 + (n % 4),
              },
            ]),
            reg("endpoints", "updateEndpoints", [
              {
                peerId: keccak256(stringToHex(`peer-${n}`)),
                multiaddrs: [],
                httpUrl: `http://h${n}`,
              },
            ]),
            reg("metadata", "updateMetadata", [keccak256(stringToHex(`m-${n}`))]),
            reg("stake", "addStake", [FAB]),
            reg("offers", "setOffers", [
              [
                {
                  modelId: HISTORY_MODEL,
                  token: zeroAddress,
                  pricePerToken: ETH_PRICE - BigInt(n % 100) * 1_000_000_000n,
                },
                { modelId: HISTORY_MODEL, token: tusd, pricePerToken: USD_PRICE },
                // A second model comes and goes (ModelAdded / ModelRemoved).
                ...(r % 2 === 0
                  ? [{ modelId: OTHER_MODEL, token: zeroAddress, pricePerToken: ETH_PRICE }]
                  : []),
              ],
            ]),
          ];
        }),
      ]);
      // A host paid in ETH in this round withdraws; the protocol collects its fees.
      const paid = ids.find((id) => fateOf(id) === "accepted" && !paysInStablecoin(id));
      if (paid !== undefined) {
        const h = hostOf(paid);
        await step([
          call("collect fees", admin, PaymentEscrow, paymentEscrowAbi, "collectFees", [
            zeroAddress,
          ]),
          call("withdraw", h, PaymentEscrow, paymentEscrowAbi, "withdraw", [zeroAddress, 1n, h]),
        ]);
      }
    }

    // ---- after the deadlines and dispute windows: auto-release and expiry.
    opts.onProgress?.("expiry");
    await rpc("evm_increaseTime", [2 * DAY]);
    const all = Array.from({ length: opts.jobs }, (_, i) => i + 1);
    for (let i = 0; i < all.length; i += round * 2) {
      await step(
        all.slice(i, i + round * 2).flatMap((id) => {
          const fate = fateOf(id);
          if (fate === "autoReleased")
            return [
              call(`release ${id}`, admin, JobMarketplace, jobMarketplaceAbi, "releasePayment", [
                id,
              ]),
            ];
          if (fate === "expiredClaimed" || fate === "expiredPosted")
            return [
              call(`expire ${id}`, admin, JobMarketplace, jobMarketplaceAbi, "expireJob", [id]),
            ];
          return [];
        }),
      );
    }

    // ---- exits: some hosts drop below the minimum, some leave; a slash; withdrawals.
    opts.onProgress?.("exits");
    const underCount = opts.underStaked ?? 1;
    const underStakedHosts = underCount > 0 ? hosts.slice(hosts.length - underCount) : [];
    const leaving = hosts.slice(
      hosts.length - underStakedHosts.length - (opts.deregistered ?? 1),
      hosts.length - underStakedHosts.length,
    );
    const slashed = hosts[0] as Address;
    await step([
      ...underStakedHosts.map((h) =>
        call("unstake", h, NodeRegistry, nodeRegistryAbi, "requestUnstake", [
          HOST_STAKE - 500n * FAB,
        ]),
      ),
      ...leaving.map((h) => call("deregister", h, NodeRegistry, nodeRegistryAbi, "deregister", [])),
      call("slash", admin, NodeRegistry, nodeRegistryAbi, "slash", [
        slashed,
        FAB,
        admin,
        keccak256(stringToHex("misbehaviour")),
      ]),
      call("collect tUSD fees", admin, PaymentEscrow, paymentEscrowAbi, "collectFees", [tusd]),
    ]);
    await rpc("evm_increaseTime", [8 * DAY]);
    await step(
      [...underStakedHosts, ...leaving].map((h) =>
        call("withdraw unstaked", h, NodeRegistry, nodeRegistryAbi, "withdrawUnstaked", []),
      ),
    );
    const lastBlock = BigInt(await rpc("eth_blockNumber"));
    return {
      hosts,
      underStakedHosts,
      deregisteredHosts: leaving,
      jobs: opts.jobs,
      transactions,
      events,
      firstBlock,
      lastBlock,
    };
  } finally {
    await rpc("evm_setAutomine", [true]);
  }
}
