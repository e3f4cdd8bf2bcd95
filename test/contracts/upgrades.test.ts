import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { network } from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import {
  encodeAbiParameters,
  encodeFunctionData,
  getAddress,
  getContract,
  type Hex,
  hexToBigInt,
  keccak256,
  maxUint64,
  parseAbi,
  stringToHex,
  toHex,
  zeroAddress,
} from "viem";
import { openSession, receiptFor, sessionRequest, signReceipt } from "../../fixtures/sessions.ts";
import {
  DISPUTE_WINDOW,
  deploySystem,
  ETH,
  FAB,
  IMPLEMENTATION_SLOT,
  implementationOf,
  MIN_STAKE,
  MODEL,
  OUTPUT,
  postJob,
  registerHost,
  signPermit,
  UNBONDING,
} from "../../fixtures/system.ts";
import { termsHash } from "../../protocol/sessions.ts";

const UPGRADER_ROLE = keccak256(stringToHex("UPGRADER_ROLE"));
const SLASHER_ROLE = keccak256(stringToHex("SLASHER_ROLE"));
const ARBITER_ROLE = keccak256(stringToHex("ARBITER_ROLE"));
/** OpenZeppelin Initializable's ERC-7201 slot; its low 8 bytes are the initialized version. */
const INITIALIZABLE_SLOT = erc7201("openzeppelin.storage.Initializable");
const PRICE = 1_000_000_000_000n;

/** The UUPS and AccessControl surface the five core contracts have in common. */
const UUPS_ABI = parseAbi([
  "function upgradeToAndCall(address newImplementation, bytes data) payable",
  "function proxiableUUID() view returns (bytes32)",
  "function grantRole(bytes32 role, address account)",
  "function renounceRole(bytes32 role, address callerConfirmation)",
  "event Upgraded(address indexed implementation)",
  "error AccessControlUnauthorizedAccount(address account, bytes32 neededRole)",
  "error ERC1967InvalidImplementation(address implementation)",
  "error InvalidInitialization()",
  "error UUPSUnauthorizedCallContext()",
]);

/** keccak256(abi.encode(uint256(keccak256(id)) - 1)) & ~bytes32(uint256(0xff)) */
function erc7201(id: string): Hex {
  const inner = hexToBigInt(keccak256(stringToHex(id))) - 1n;
  const outer = hexToBigInt(keccak256(encodeAbiParameters([{ type: "uint256" }], [inner])));
  return toHex(outer & ~0xffn, { size: 32 });
}

function slotPlus(slot: Hex, n: bigint): Hex {
  return toHex(hexToBigInt(slot) + n, { size: 32 });
}

/**
 * The system with state in every contract: two hosts (one with stake unbonding), a settled
 * ETH job (escrow balances and fees), a claimed tUSD job and a posted ETH job (both locked),
 * an ETH session paid up to a receipt (locked under the SessionManager) and a settled one,
 * FAB votes, allowances and a used permit nonce, and extra roles.
 */
async function populated(connection: NetworkConnection) {
  const sys = await deploySystem(connection);
  const wallets = await connection.viem.getWalletClients();
  const spender = wallets[5];
  if (!spender) throw new Error("need 6 accounts");
  const { host, host2, renter, registry, marketplace, fab, usd } = sys;

  await registerHost(sys, host, {
    stake: 2n * MIN_STAKE,
    offers: [
      { modelId: MODEL, token: ETH, pricePerToken: PRICE },
      { modelId: MODEL, token: usd.address, pricePerToken: 3n },
    ],
  });
  await registerHost(sys, host2);
  await registry.write.requestUnstake([MIN_STAKE / 2n], { account: host.account });
  await registry.write.grantRole([SLASHER_ROLE, sys.other.account.address]);

  const settled = await postJob(sys);
  await marketplace.write.claimJob([settled.jobId], { account: host.account });
  await marketplace.write.completeJob([settled.jobId, OUTPUT, 500], { account: host.account });
  await marketplace.write.acceptJob([settled.jobId], { account: renter.account });

  const claimed = await postJob(sys, { token: usd.address, maxPricePerToken: 10n });
  await marketplace.write.claimJob([claimed.jobId], { account: host.account });

  const posted = await postJob(sys, { maxTokens: 10 });

  const sessionReq = await sessionRequest(sys, {
    maxPricePerToken: PRICE,
    deposit: 1_000n * PRICE,
  });
  const live = await openSession(sys, sessionReq);
  const paid = receiptFor(live.sessionId, live.terms, 100);
  await sys.sessions.write.checkpoint(
    [live.terms, live.sessionId, paid, await signReceipt(renter, sys.sessions.address, paid)],
    { account: host.account },
  );
  // Another salt: the same request again would repeat the live session's terms (and id).
  const closed = await openSession(sys, { ...sessionReq, salt: sessionReq.salt ^ 1n });
  await sys.sessions.write.closeSession(
    [closed.terms, closed.sessionId, receiptFor(closed.sessionId, closed.terms, 0), "0x"],
    { account: host.account },
  );

  await fab.write.delegate([host.account.address], { account: host.account });
  await fab.write.approve([spender.account.address, 77n], { account: host2.account });
  const deadline = (await sys.publicClient.getBlock()).timestamp + 3_600n;
  const p = await signPermit(fab, host2, spender.account.address, 55n, deadline);
  await fab.write.permit([
    host2.account.address,
    spender.account.address,
    55n,
    deadline,
    p.v,
    p.r,
    p.s,
  ]);

  return {
    ...sys,
    spender,
    jobs: { settled: settled.jobId, claimed: claimed.jobId, posted: posted.jobId },
    live,
    closed,
  };
}

type Populated = Awaited<ReturnType<typeof populated>>;

// ---------------------------------------------------------------- state snapshots

async function marketplaceState(f: Populated) {
  const m = f.marketplace;
  return {
    jobs: await Promise.all(Object.values(f.jobs).map((id) => m.read.getJob([id]))),
    nextJobId: await m.read.nextJobId(),
    active: [
      await m.read.activeJobCount([f.host.account.address]),
      await m.read.activeJobCount([f.host2.account.address]),
    ],
    disputeWindow: await m.read.disputeWindow(),
    paused: await m.read.paused(),
    offers: [
      await m.read.offerIdOf([MODEL, ETH]),
      await m.read.offerIdOf([MODEL, f.usd.address]),
      await m.read.offerOf([1]),
      await m.read.offerOf([2]),
    ],
    immutables: [await m.read.registry(), await m.read.escrow()],
    arbiter: await m.read.hasRole([ARBITER_ROLE, f.admin.account.address]),
  };
}

async function registryState(f: Populated) {
  const r = f.registry;
  const h = f.host.account.address;
  return {
    hosts: [await r.read.hostState([h]), await r.read.hostState([f.host2.account.address])],
    profile: await r.read.profileOf([h]),
    models: await r.read.modelsOf([h]),
    tokens: await r.read.tokensOf([h, MODEL]),
    prices: [
      await r.read.priceOf([h, MODEL, ETH]),
      await r.read.priceOf([h, MODEL, f.usd.address]),
    ],
    activeHosts: await r.read.activeHosts([0n, 10n]),
    hostsForModel: await r.read.hostsForModel([MODEL, 0n, 10n]),
    params: [
      await r.read.fab(),
      await r.read.minimumStake(),
      await r.read.unbondingPeriod(),
      await r.read.jobMarketplace(),
    ],
    slasher: await r.read.hasRole([SLASHER_ROLE, f.other.account.address]),
    paused: await r.read.paused(),
  };
}

async function escrowState(f: Populated) {
  const e = f.escrow;
  return {
    locks: await Promise.all(
      Object.values(f.jobs).map((id) => e.read.lockOf([f.marketplace.address, id])),
    ),
    sessionLock: await e.read.lockOf([f.sessions.address, f.live.sessionId]),
    balances: [
      await e.read.balanceOf([f.host.account.address, ETH]),
      await e.read.balanceOf([f.renter.account.address, ETH]),
    ],
    fees: await e.read.feesOf([ETH]),
    feeSplit: await e.read.feeSplit(),
    lockers: [
      await e.read.isLocker([f.marketplace.address]),
      await e.read.isLocker([f.sessions.address]),
    ],
    addresses: [await e.read.treasury(), await e.read.stakersPool()],
    usdAllowed: await e.read.isTokenAllowed([f.usd.address]),
    paused: await e.read.paused(),
  };
}

async function sessionsState(f: Populated) {
  const m = f.sessions;
  const ids = [f.live.sessionId, f.closed.sessionId];
  return {
    states: await Promise.all(ids.map((id) => m.read.sessionState([id]))),
    terms: await Promise.all(ids.map((id) => m.read.termsHash([id]))),
    closeWindow: await m.read.closeWindow(),
    paused: await m.read.paused(),
    domainSeparator: await m.read.domainSeparator(),
    immutables: [await m.read.registry(), await m.read.escrow()],
    upgrader: await m.read.hasRole([UPGRADER_ROLE, f.admin.account.address]),
  };
}

async function fabState(f: Populated) {
  const t = f.fab;
  const holders = [f.admin, f.host, f.host2].map((w) => w.account.address);
  return {
    meta: [await t.read.name(), await t.read.symbol(), await t.read.decimals()],
    totalSupply: await t.read.totalSupply(),
    balances: await Promise.all([...holders, f.registry.address].map((x) => t.read.balanceOf([x]))),
    allowance: await t.read.allowance([f.host2.account.address, f.spender.account.address]),
    nonces: await t.read.nonces([f.host2.account.address]),
    votes: await t.read.getVotes([f.host.account.address]),
    custody: [
      await t.read.custodiedOf([f.host.account.address]),
      await t.read.heldBy([f.registry.address]),
    ],
    delegate: await t.read.delegates([f.host.account.address]),
    domainSeparator: await t.read.DOMAIN_SEPARATOR(),
    paused: await t.read.paused(),
  };
}

describe("UUPS upgrades", async () => {
  const connection = await network.create();
  const { viem, networkHelpers } = connection;
  const { loadFixture, time } = networkHelpers;
  const publicClient = await viem.getPublicClient();
  const a = viem.assertions;

  /** A proxy seen through the UUPS + AccessControl interface all four contracts share. */
  function uups(f: Populated, address: `0x${string}`) {
    return getContract({
      address,
      abi: UUPS_ABI,
      client: { public: publicClient, wallet: f.admin },
    });
  }

  /** The five proxies, how to build a fresh implementation of each, and an encoded initialize call. */
  async function targets(f: Populated) {
    return [
      {
        name: "FABToken",
        proxy: uups(f, f.fab.address),
        newImpl: async () => (await viem.deployContract("FABToken")).address,
        reinit: encodeFunctionData({
          abi: f.fab.abi,
          functionName: "initialize",
          args: [f.admin.account.address, f.admin.account.address, 1n],
        }),
      },
      {
        name: "PaymentEscrow",
        proxy: uups(f, f.escrow.address),
        newImpl: async () => (await viem.deployContract("PaymentEscrow")).address,
        reinit: encodeFunctionData({
          abi: f.escrow.abi,
          functionName: "initialize",
          args: [f.admin.account.address, f.admin.account.address, f.admin.account.address],
        }),
      },
      {
        name: "NodeRegistry",
        proxy: uups(f, f.registry.address),
        newImpl: async () => (await viem.deployContract("NodeRegistry")).address,
        reinit: encodeFunctionData({
          abi: f.registry.abi,
          functionName: "initialize",
          args: [f.admin.account.address, f.fab.address, 1n, 0n],
        }),
      },
      {
        name: "JobMarketplace",
        proxy: uups(f, f.marketplace.address),
        newImpl: async () =>
          (await viem.deployContract("JobMarketplace", [f.registry.address, f.escrow.address]))
            .address,
        reinit: encodeFunctionData({
          abi: f.marketplace.abi,
          functionName: "initialize",
          args: [f.admin.account.address, 1],
        }),
      },
      {
        name: "SessionManager",
        proxy: uups(f, f.sessions.address),
        newImpl: async () =>
          (await viem.deployContract("SessionManager", [f.registry.address, f.escrow.address]))
            .address,
        reinit: encodeFunctionData({
          abi: f.sessions.abi,
          functionName: "initialize",
          args: [f.admin.account.address, 3_600],
        }),
      },
    ] as const;
  }

  // ---------------------------------------------------------------- every proxy

  describe("every proxy", () => {
    it("refuses upgradeToAndCall from an account without UPGRADER_ROLE", async () => {
      const f = await loadFixture(populated);
      for (const t of await targets(f)) {
        const impl = await t.newImpl();
        const before = await implementationOf(f, t.proxy.address);
        await a.revertWithCustomErrorWithArgs(
          t.proxy.write.upgradeToAndCall([impl, "0x"], { account: f.other.account }),
          t.proxy,
          "AccessControlUnauthorizedAccount",
          [f.other.account.address, UPGRADER_ROLE],
        );
        assert.equal(await implementationOf(f, t.proxy.address), before, t.name);
      }
    });

    it("lets the admin upgrade: Upgraded is emitted and the ERC-1967 slot points to the new implementation", async () => {
      const f = await loadFixture(populated);
      for (const t of await targets(f)) {
        const before = await implementationOf(f, t.proxy.address);
        const impl = await t.newImpl();
        assert.notEqual(impl, before);
        const hash = await t.proxy.write.upgradeToAndCall([impl, "0x"]);
        await a.emitWithArgs(hash, t.proxy, "Upgraded", [impl]);
        assert.equal(await implementationOf(f, t.proxy.address), getAddress(impl), t.name);
      }
    });

    it("lets another account upgrade once granted UPGRADER_ROLE, and not the admin once it renounced it", async () => {
      const f = await loadFixture(populated);
      for (const t of await targets(f)) {
        await t.proxy.write.grantRole([UPGRADER_ROLE, f.other.account.address]);
        await t.proxy.write.renounceRole([UPGRADER_ROLE, f.admin.account.address]);
        const impl = await t.newImpl();
        await a.revertWithCustomErrorWithArgs(
          t.proxy.write.upgradeToAndCall([impl, "0x"]),
          t.proxy,
          "AccessControlUnauthorizedAccount",
          [f.admin.account.address, UPGRADER_ROLE],
        );
        await t.proxy.write.upgradeToAndCall([impl, "0x"], { account: f.other.account });
        assert.equal(await implementationOf(f, t.proxy.address), getAddress(impl), t.name);
      }
    });

    it("refuses to upgrade to a contract that is not UUPS (ERC1967InvalidImplementation) or to an EOA", async () => {
      const f = await loadFixture(populated);
      for (const t of await targets(f)) {
        const before = await implementationOf(f, t.proxy.address);
        await a.revertWithCustomErrorWithArgs(
          t.proxy.write.upgradeToAndCall([f.usd.address, "0x"]),
          t.proxy,
          "ERC1967InvalidImplementation",
          [f.usd.address],
        );
        // an EOA returns no data: decoding proxiableUUID()'s result fails outside the try/catch
        await a.revert(t.proxy.write.upgradeToAndCall([f.other.account.address, "0x"]));
        assert.equal(await implementationOf(f, t.proxy.address), before, t.name);
      }
    });

    it("cannot re-run initialize through upgradeToAndCall (InvalidInitialization), and the upgrade rolls back", async () => {
      const f = await loadFixture(populated);
      for (const t of await targets(f)) {
        const before = await implementationOf(f, t.proxy.address);
        const impl = await t.newImpl();
        await a.revertWithCustomError(
          t.proxy.write.upgradeToAndCall([impl, t.reinit]),
          t.proxy,
          "InvalidInitialization",
        );
        assert.equal(await implementationOf(f, t.proxy.address), before, t.name);
      }
    });

    it("proxies are initialized once (version 1) and cannot be initialized again", async () => {
      const f = await loadFixture(populated);
      for (const t of await targets(f)) {
        const word = await publicClient.getStorageAt({
          address: t.proxy.address,
          slot: INITIALIZABLE_SLOT,
        });
        assert.equal(hexToBigInt(word ?? "0x0") & maxUint64, 1n, t.name);
        await a.revertWithCustomError(
          f.admin.sendTransaction({ to: t.proxy.address, data: t.reinit }),
          t.proxy,
          "InvalidInitialization",
        );
      }
    });

    it("implementations cannot be initialized directly (initializers disabled in the constructor)", async () => {
      const f = await loadFixture(populated);
      for (const t of await targets(f)) {
        for (const impl of [await implementationOf(f, t.proxy.address), await t.newImpl()]) {
          const word = await publicClient.getStorageAt({ address: impl, slot: INITIALIZABLE_SLOT });
          assert.equal(hexToBigInt(word ?? "0x0") & maxUint64, maxUint64, `${t.name} at ${impl}`);
          await a.revertWithCustomError(
            f.other.sendTransaction({ to: impl, data: t.reinit }),
            t.proxy,
            "InvalidInitialization",
          );
        }
      }
    });

    it("implementations refuse upgradeToAndCall when called directly (UUPSUnauthorizedCallContext)", async () => {
      const f = await loadFixture(populated);
      for (const t of await targets(f)) {
        const impl = await implementationOf(f, t.proxy.address);
        const other = await t.newImpl();
        await a.revertWithCustomError(
          f.admin.sendTransaction({
            to: impl,
            data: encodeFunctionData({
              abi: t.proxy.abi,
              functionName: "upgradeToAndCall",
              args: [other, "0x"],
            }),
          }),
          t.proxy,
          "UUPSUnauthorizedCallContext",
        );
      }
    });

    it("proxiableUUID is the ERC-1967 slot on the implementation and refused through the proxy", async () => {
      const f = await loadFixture(populated);
      for (const t of await targets(f)) {
        const impl = await implementationOf(f, t.proxy.address);
        const data = encodeFunctionData({ abi: t.proxy.abi, functionName: "proxiableUUID" });
        const { data: uuid } = await publicClient.call({ to: impl, data });
        assert.equal(uuid, IMPLEMENTATION_SLOT, t.name);
        await a.revertWithCustomError(
          t.proxy.read.proxiableUUID(),
          t.proxy,
          "UUPSUnauthorizedCallContext",
        );
      }
    });

    it("keep no state in sequential storage slots (everything is ERC-7201 namespaced)", async () => {
      const f = await loadFixture(populated);
      for (const t of await targets(f)) {
        for (let slot = 0n; slot < 8n; slot++) {
          const word = await publicClient.getStorageAt({
            address: t.proxy.address,
            slot: toHex(slot, { size: 32 }),
          });
          assert.equal(hexToBigInt(word ?? "0x0"), 0n, `${t.name} slot ${slot}`);
        }
      }
    });

    it("store their own state at the ERC-7201 slot their contracts declare", async () => {
      const f = await loadFixture(populated);
      const word = async (address: `0x${string}`, slot: Hex) =>
        hexToBigInt((await publicClient.getStorageAt({ address, slot })) ?? "0x0");
      const low = (x: bigint, bytes: bigint) => x & ((1n << (8n * bytes)) - 1n);

      // NodeRegistryStorage: fab | (minimumStake, unbondingPeriod) | marketplace
      const reg = erc7201("fabstir.storage.NodeRegistry");
      assert.equal(reg, "0xb1849ed940e121315e41d940d6962b30ef7ab820ff68efd5f67fc07a1fb98a00");
      assert.equal(await word(f.registry.address, reg), hexToBigInt(f.fab.address));
      const packed = await word(f.registry.address, slotPlus(reg, 1n));
      assert.equal(low(packed, 16n), MIN_STAKE);
      assert.equal(low(packed >> 128n, 8n), UNBONDING);
      assert.equal(
        await word(f.registry.address, slotPlus(reg, 2n)),
        hexToBigInt(f.marketplace.address),
      );

      // JobMarketplaceStorage.config: nextJobId | nextOfferId | disputeWindow | paused
      const mkt = erc7201("fabstir.storage.JobMarketplace");
      assert.equal(mkt, "0x89d6ae10e84318e46560931e52aeafde0e8fd06f9ecbe25b58c516312dd35b00");
      const config = await word(f.marketplace.address, mkt);
      assert.equal(low(config, 8n), await f.marketplace.read.nextJobId());
      assert.equal(low(config >> 64n, 4n), 3n); // next offer id: (MODEL, ETH) and (MODEL, tUSD) registered
      assert.equal(low(config >> 96n, 4n), DISPUTE_WINDOW);

      // PaymentEscrowStorage: config (hostBps | treasuryBps | stakersBps) | treasury | stakersPool
      const esc = erc7201("fabstir.storage.PaymentEscrow");
      assert.equal(esc, "0xa69f861d9f8b0d887c0bced1b78600ea650ddbc02812b60b2ec1d49d430ac200");
      const escConfig = await word(f.escrow.address, esc);
      assert.equal(low(escConfig, 2n), 8_500n);
      assert.equal(low(escConfig >> 16n, 2n), 1_000n);
      assert.equal(low(escConfig >> 32n, 2n), 500n);
      assert.equal(
        await word(f.escrow.address, slotPlus(esc, 1n)),
        hexToBigInt(f.admin.account.address),
      );

      // SessionManagerStorage.config: nextSessionId (retired: ids are terms hashes; 0 on a fresh
      // deployment and never written) | closeWindow | paused
      const ses = erc7201("fabstir.storage.SessionManager");
      assert.equal(ses, "0xa460b482b20af2742789f7d80e24fe8aadf57c846b630654f447af12bc346c00");
      const sesConfig = await word(f.sessions.address, ses);
      assert.equal(low(sesConfig, 8n), 0n);
      assert.equal(low(sesConfig >> 64n, 4n), 3_600n);
      assert.equal(low(sesConfig >> 96n, 1n), 0n);

      // FABToken: OpenZeppelin's ERC20 namespace (balances | allowances | totalSupply | name | symbol)
      const erc20 = erc7201("openzeppelin.storage.ERC20");
      assert.equal(await word(f.fab.address, slotPlus(erc20, 2n)), await f.fab.read.totalSupply());
    });
  });

  // ---------------------------------------------------------------- JobMarketplace

  describe("JobMarketplace", () => {
    async function upgradedToV2(connection: NetworkConnection) {
      const f = await populated(connection);
      const before = await marketplaceState(f);
      const v2 = await connection.viem.deployContract("JobMarketplaceV2", [
        f.registry.address,
        f.escrow.address,
      ]);
      const hash = await f.marketplace.write.upgradeToAndCall([v2.address, "0x"]);
      const marketplaceV2 = await connection.viem.getContractAt(
        "JobMarketplaceV2",
        f.marketplace.address,
      );
      return { ...f, before, v2, hash, marketplaceV2 };
    }

    it("upgrades to JobMarketplaceV2: version() is 2 and every job, counter and role is intact", async () => {
      const f = await loadFixture(upgradedToV2);
      await a.emitWithArgs(f.hash, f.marketplace, "Upgraded", [f.v2.address]);
      assert.equal(await implementationOf(f, f.marketplace.address), getAddress(f.v2.address));
      assert.equal(await f.marketplaceV2.read.version(), "2");
      assert.deepEqual(await marketplaceState(f), f.before);
      // sanity: the snapshot holds real state
      const [claimed] = await f.marketplace.read.getJob([f.jobs.claimed]);
      assert.equal(claimed.status, 2); // Claimed
      assert.equal(getAddress(claimed.host), getAddress(f.host.account.address));
      assert.deepEqual(f.before.active, [1n, 0n]);
    });

    it("after the upgrade, the jobs carry on: complete + accept pays the host, the posted job can be cancelled", async () => {
      const f = await loadFixture(upgradedToV2);
      const m = f.marketplaceV2;
      await m.write.completeJob([f.jobs.claimed, OUTPUT, 400], { account: f.host.account });
      await m.write.acceptJob([f.jobs.claimed], { account: f.renter.account });
      const [job] = await m.read.getJob([f.jobs.claimed]);
      assert.equal(job.status, 5); // Settled
      assert.equal(
        await f.escrow.read.balanceOf([f.host.account.address, f.usd.address]),
        (400n * 3n * 8_500n) / 10_000n,
      );
      assert.equal(await m.read.activeJobCount([f.host.account.address]), 0n);
      await m.write.cancelJob([f.jobs.posted], { account: f.renter.account });
      const { jobId } = await postJob(f);
      assert.equal(jobId, f.before.nextJobId);
      assert.equal(await m.read.nextJobId(), f.before.nextJobId + 1n);
    });

    it("after the upgrade, the registry still sees the host's unfinished job through the same proxy", async () => {
      const f = await loadFixture(upgradedToV2);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.deregister({ account: f.host.account }),
        f.registry,
        "NodeRegistryUnfinishedJobs",
        [f.host.account.address, 1n],
      );
    });

    it("upgradeToAndCall can run a call in the upgrade transaction (setDisputeWindow)", async () => {
      const f = await loadFixture(populated);
      const v2 = await viem.deployContract("JobMarketplaceV2", [
        f.registry.address,
        f.escrow.address,
      ]);
      const data = encodeFunctionData({
        abi: f.marketplace.abi,
        functionName: "setDisputeWindow",
        args: [2 * 86_400],
      });
      const hash = await f.marketplace.write.upgradeToAndCall([v2.address, data]);
      await a.emitWithArgs(hash, f.marketplace, "DisputeWindowUpdated", [
        Number(DISPUTE_WINDOW),
        2 * 86_400,
      ]);
      assert.equal(await f.marketplace.read.disputeWindow(), 2 * 86_400);
    });

    it("the V2 implementation itself cannot be initialized", async () => {
      const f = await loadFixture(populated);
      const v2 = await viem.deployContract("JobMarketplaceV2", [
        f.registry.address,
        f.escrow.address,
      ]);
      await a.revertWithCustomError(
        v2.write.initialize([f.other.account.address, 1], { account: f.other.account }),
        v2,
        "InvalidInitialization",
      );
    });
  });

  // ---------------------------------------------------------------- NodeRegistry

  describe("NodeRegistry", () => {
    async function upgradedRegistry(connection: NetworkConnection) {
      const f = await populated(connection);
      const before = await registryState(f);
      const impl = await connection.viem.deployContract("NodeRegistry");
      await f.registry.write.upgradeToAndCall([impl.address, "0x"]);
      return { ...f, before, impl };
    }

    it("keeps hosts, profiles, offers, discovery lists, parameters and roles", async () => {
      const f = await loadFixture(upgradedRegistry);
      assert.equal(await implementationOf(f, f.registry.address), getAddress(f.impl.address));
      assert.deepEqual(await registryState(f), f.before);
      const [status, stake, , unbonding] = f.before.hosts[0] ?? [];
      assert.deepEqual([status, stake, unbonding], [1, (3n * MIN_STAKE) / 2n, MIN_STAKE / 2n]);
    });

    it("keeps working after the upgrade: withdraw the unbonded stake, add stake, slash, check eligibility", async () => {
      const f = await loadFixture(upgradedRegistry);
      await time.increase(UNBONDING);
      const before = await f.fab.read.balanceOf([f.host.account.address]);
      await f.registry.write.withdrawUnstaked({ account: f.host.account });
      assert.equal(await f.fab.read.balanceOf([f.host.account.address]), before + MIN_STAKE / 2n);
      await f.registry.write.addStake([FAB], { account: f.host2.account });
      await f.registry.write.slash(
        [f.host2.account.address, FAB, f.other.account.address, keccak256("0x01")],
        {
          account: f.other.account,
        },
      );
      const [, stake2] = await f.registry.read.hostState([f.host2.account.address]);
      assert.equal(stake2, MIN_STAKE);
      assert.equal(
        (
          await f.registry.read.checkEligible([
            f.host.account.address,
            await f.registry.read.offerKey([MODEL, f.usd.address]),
          ])
        )[0],
        3n,
      );
    });

    it("upgradeToAndCall can run a call in the upgrade transaction (setMinimumStake)", async () => {
      const f = await loadFixture(populated);
      const impl = await viem.deployContract("NodeRegistry");
      const data = encodeFunctionData({
        abi: f.registry.abi,
        functionName: "setMinimumStake",
        args: [2n * MIN_STAKE],
      });
      const hash = await f.registry.write.upgradeToAndCall([impl.address, data]);
      await a.emitWithArgs(hash, f.registry, "MinimumStakeUpdated", [MIN_STAKE, 2n * MIN_STAKE]);
      assert.equal(await f.registry.read.minimumStake(), 2n * MIN_STAKE);
    });
  });

  // ---------------------------------------------------------------- PaymentEscrow

  describe("PaymentEscrow", () => {
    async function upgradedEscrow(connection: NetworkConnection) {
      const f = await populated(connection);
      const before = await escrowState(f);
      const impl = await connection.viem.deployContract("PaymentEscrow");
      await f.escrow.write.upgradeToAndCall([impl.address, "0x"]);
      return { ...f, before, impl };
    }

    it("keeps locks, balances, fees, the fee split, addresses and allowed tokens", async () => {
      const f = await loadFixture(upgradedEscrow);
      assert.equal(await implementationOf(f, f.escrow.address), getAddress(f.impl.address));
      assert.deepEqual(await escrowState(f), f.before);
      // sanity: the snapshot holds real state
      assert.deepEqual(f.before.locks[1], [getAddress(f.usd.address), 10_000n]);
      assert.deepEqual(f.before.sessionLock, [ETH, 900n * PRICE]);
      assert.deepEqual(f.before.lockers, [true, true]);
      assert.ok((f.before.balances[0] ?? 0n) > 0n);
    });

    it("keeps working after the upgrade: the host withdraws its ETH and fees are collected", async () => {
      const f = await loadFixture(upgradedEscrow);
      const owed = f.before.balances[0] ?? 0n;
      await a.balancesHaveChanged(
        f.escrow.write.withdraw([ETH, owed, f.host2.account.address], { account: f.host.account }),
        [
          { address: f.host2.account.address, amount: owed },
          { address: f.escrow.address, amount: -owed },
        ],
      );
      assert.equal(await f.escrow.read.balanceOf([f.host.account.address, ETH]), 0n);
      await f.escrow.write.collectFees([ETH, 0], { account: f.other.account });
      await f.escrow.write.collectFees([ETH, 1], { account: f.other.account });
      assert.deepEqual(await f.escrow.read.feesOf([ETH]), [0n, 0n]);
      // locks still release through the marketplace
      await f.marketplace.write.cancelJob([f.jobs.posted], { account: f.renter.account });
      assert.deepEqual(await f.escrow.read.lockOf([f.marketplace.address, f.jobs.posted]), [
        zeroAddress,
        0n,
      ]);
    });
  });

  // ---------------------------------------------------------------- SessionManager

  describe("SessionManager", () => {
    async function upgradedSessions(connection: NetworkConnection) {
      const f = await populated(connection);
      const before = await sessionsState(f);
      const impl = await connection.viem.deployContract("SessionManager", [
        f.registry.address,
        f.escrow.address,
      ]);
      await f.sessions.write.upgradeToAndCall([impl.address, "0x"]);
      return { ...f, before, impl };
    }

    it("keeps sessions, terms, counters, the close window, the domain and roles", async () => {
      const f = await loadFixture(upgradedSessions);
      assert.equal(await implementationOf(f, f.sessions.address), getAddress(f.impl.address));
      assert.deepEqual(await sessionsState(f), f.before);
      // sanity: the snapshot holds real state
      const [live, closed] = f.before.states;
      assert.deepEqual([live?.[0], live?.[1].paid, live?.[1].tokens], [1, 100n * PRICE, 100]);
      assert.equal(closed?.[0], 3);
      assert.deepEqual(f.before.terms, [termsHash(f.live.terms), termsHash(f.closed.terms)]);
    });

    it("keeps working after the upgrade: a receipt signed before it is still paid, the session closes", async () => {
      const f = await loadFixture(upgradedSessions);
      const { sessionId, terms } = f.live;
      const later = receiptFor(sessionId, terms, 250);
      const signature = await signReceipt(f.renter, f.sessions.address, later);
      await f.sessions.write.closeSession([terms, sessionId, later, signature], {
        account: f.host.account,
      });
      const [status, state] = await f.sessions.read.sessionState([sessionId]);
      assert.deepEqual([status, state.paid], [3, 250n * PRICE]);
      assert.deepEqual(await f.escrow.read.lockOf([f.sessions.address, sessionId]), [
        zeroAddress,
        0n,
      ]);
    });

    it("upgradeToAndCall can run a call in the upgrade transaction (setCloseWindow)", async () => {
      const f = await loadFixture(populated);
      const impl = await viem.deployContract("SessionManager", [
        f.registry.address,
        f.escrow.address,
      ]);
      const data = encodeFunctionData({
        abi: f.sessions.abi,
        functionName: "setCloseWindow",
        args: [600],
      });
      const hash = await f.sessions.write.upgradeToAndCall([impl.address, data]);
      await a.emitWithArgs(hash, f.sessions, "CloseWindowUpdated", [3_600, 600]);
      assert.equal(await f.sessions.read.closeWindow(), 600);
    });
  });

  // ---------------------------------------------------------------- FABToken

  describe("FABToken", () => {
    async function upgradedToken(connection: NetworkConnection) {
      const f = await populated(connection);
      const before = await fabState(f);
      const impl = await connection.viem.deployContract("FABToken");
      await f.fab.write.upgradeToAndCall([impl.address, "0x"]);
      return { ...f, before, impl };
    }

    it("keeps supply, balances, allowances, nonces, votes, delegation and the permit domain", async () => {
      const f = await loadFixture(upgradedToken);
      assert.equal(await implementationOf(f, f.fab.address), getAddress(f.impl.address));
      assert.deepEqual(await fabState(f), f.before);
      // sanity: the snapshot holds real state
      assert.equal(f.before.nonces, 1n);
      assert.equal(f.before.allowance, 55n);
      // The host's stake (2 × the minimum) is in the registry's custody and still votes.
      assert.equal(f.before.votes, 10_000n * FAB);
    });

    it("keeps working after the upgrade: transfers, votes and a permit at the next nonce", async () => {
      const f = await loadFixture(upgradedToken);
      await f.fab.write.transfer([f.host2.account.address, FAB], { account: f.host.account });
      assert.equal(
        await f.fab.read.getVotes([f.host.account.address]),
        (f.before.votes ?? 0n) - FAB,
      );
      const deadline = BigInt(await time.latest()) + 3_600n;
      const p = await signPermit(f.fab, f.host2, f.spender.account.address, 9n, deadline);
      await f.fab.write.permit([
        f.host2.account.address,
        f.spender.account.address,
        9n,
        deadline,
        p.v,
        p.r,
        p.s,
      ]);
      assert.equal(
        await f.fab.read.allowance([f.host2.account.address, f.spender.account.address]),
        9n,
      );
      assert.equal(await f.fab.read.nonces([f.host2.account.address]), 2n);
    });

    it("keeps the pause state across an upgrade", async () => {
      const f = await loadFixture(populated);
      await f.fab.write.pause();
      const impl = await viem.deployContract("FABToken");
      await f.fab.write.upgradeToAndCall([impl.address, "0x"]);
      assert.equal(await f.fab.read.paused(), true);
      await a.revertWithCustomError(
        f.fab.write.transfer([f.host2.account.address, 1n], { account: f.host.account }),
        f.fab,
        "EnforcedPause",
      );
    });
  });

  it("the fixture leaves a settled job, a claimed tUSD job and a posted job", async () => {
    const f = await loadFixture(populated);
    const statuses = await Promise.all(
      [f.jobs.settled, f.jobs.claimed, f.jobs.posted].map(
        async (id) => (await f.marketplace.read.getJob([id]))[0].status,
      ),
    );
    assert.deepEqual(statuses, [5, 2, 1]);
    assert.equal(await f.usd.read.balanceOf([f.escrow.address]), 10_000n);
  });
});
