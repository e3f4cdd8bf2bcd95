import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { network } from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import {
  type Abi,
  encodeFunctionData,
  getAddress,
  type Hash,
  keccak256,
  maxUint256,
  pad,
  parseEventLogs,
  stringToHex,
  toHex,
  zeroAddress,
  zeroHash,
} from "viem";
import {
  DAY,
  deployProxy,
  deploySystem,
  ETH,
  FAB,
  implementationOf,
  MIN_STAKE,
  MODEL,
  OTHER_MODEL,
  OUTPUT,
  offerKey,
  postJob,
  registerHost,
  registration,
  signPermit,
  UNBONDING,
} from "../../fixtures/system.ts";

/** INodeRegistry.HostStatus */
const Unregistered = 0;
const Active = 1;
const Paused = 2;

const PRICE = 1_000_000_000_000n; // registration()'s default: 0.000001 ETH per token
const REASON = keccak256(stringToHex("dispute #1"));
const SLASHER_ROLE = keccak256(stringToHex("SLASHER_ROLE"));
const PAUSER_ROLE = keccak256(stringToHex("PAUSER_ROLE"));
const UPGRADER_ROLE = keccak256(stringToHex("UPGRADER_ROLE"));
const MAX_UNBONDING = 90n * DAY;

const modelN = (i: number) => stringToHex(`model-${i}`, { size: 32 });
const tokenN = (i: number) => getAddress(pad(toHex(i + 1), { size: 20 }));

// ---------------------------------------------------------------- fixtures

/** The deployed system plus a slasher (SLASHER_ROLE), and two funded accounts without approvals. */
async function registryFixture(connection: NetworkConnection) {
  const sys = await deploySystem(connection);
  const wallets = await connection.viem.getWalletClients();
  const [slasher, newcomer, third] = [wallets[5], wallets[6], wallets[7]];
  if (!slasher || !newcomer || !third) throw new Error("need 8 accounts");
  await sys.registry.write.grantRole([SLASHER_ROLE, slasher.account.address]);
  for (const w of [newcomer, third]) {
    await sys.fab.write.transfer([w.account.address, 10_000n * FAB]);
  }
  return { ...sys, slasher, newcomer, third };
}

/** `host` registered with the default registration (1000 FAB, MODEL in ETH). */
async function hostRegistered(connection: NetworkConnection) {
  const f = await registryFixture(connection);
  const reg = await registerHost(f, f.host);
  return { ...f, reg };
}

/** `host` registered and holding one claimed ETH job. */
async function hostWithClaimedJob(connection: NetworkConnection) {
  const f = await hostRegistered(connection);
  const { jobId, request } = await postJob(f);
  await f.marketplace.write.claimJob([jobId], { account: f.host.account });
  return { ...f, jobId, request };
}

/** Three hosts: host (MODEL/ETH), host2 (MODEL/ETH + OTHER_MODEL/tUSD), third (OTHER_MODEL/ETH). */
async function threeHosts(connection: NetworkConnection) {
  const f = await registryFixture(connection);
  await registerHost(f, f.host);
  await registerHost(f, f.host2, {
    offers: [
      { modelId: MODEL, token: ETH, pricePerToken: PRICE },
      { modelId: OTHER_MODEL, token: f.usd.address, pricePerToken: 5n },
    ],
  });
  await f.fab.write.approve([f.registry.address, maxUint256], { account: f.third.account });
  await registerHost(f, f.third, {
    offers: [{ modelId: OTHER_MODEL, token: ETH, pricePerToken: 7n }],
  });
  return f;
}

describe("NodeRegistry", async () => {
  const connection = await network.create();
  const { viem, networkHelpers } = connection;
  const { loadFixture, time } = networkHelpers;
  const publicClient = await viem.getPublicClient();
  const a = viem.assertions;

  const addr = (w: { account: { address: `0x${string}` } }) => getAddress(w.account.address);
  /** Case-insensitive, order-insensitive comparison form for address or bytes32 lists. */
  const sorted = (xs: readonly string[]) => xs.map((x) => x.toLowerCase()).sort();

  async function timestampOf(hash: Hash): Promise<bigint> {
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    return (await publicClient.getBlock({ blockNumber: receipt.blockNumber })).timestamp;
  }

  /** Logs named `eventName` that `contract` emitted in `hash`. */
  async function eventsOf(
    hash: Hash,
    contract: { address: `0x${string}`; abi: Abi },
    eventName: string,
  ) {
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    const own = receipt.logs.filter(
      (l) => l.address.toLowerCase() === contract.address.toLowerCase(),
    );
    return parseEventLogs({ abi: contract.abi, logs: own }).filter(
      (l) => l.eventName === eventName,
    );
  }

  async function latestPlus(seconds: bigint): Promise<bigint> {
    return BigInt(await time.latest()) + seconds;
  }

  // ---------------------------------------------------------------- initialize

  describe("initialize", () => {
    it("grants the admin roles (not SLASHER_ROLE) and stores token, minimum, unbonding and marketplace", async () => {
      const { registry, admin, fab, marketplace } = await loadFixture(deploySystem);
      const adminAddr = admin.account.address;
      assert.equal(await registry.read.hasRole([zeroHash, adminAddr]), true);
      assert.equal(await registry.read.hasRole([PAUSER_ROLE, adminAddr]), true);
      assert.equal(await registry.read.hasRole([UPGRADER_ROLE, adminAddr]), true);
      assert.equal(await registry.read.hasRole([SLASHER_ROLE, adminAddr]), false);
      assert.equal(await registry.read.fab(), getAddress(fab.address));
      assert.equal(await registry.read.minimumStake(), MIN_STAKE);
      assert.equal(await registry.read.unbondingPeriod(), UNBONDING);
      assert.equal(await registry.read.jobMarketplace(), getAddress(marketplace.address));
    });

    it("cannot be called twice on the proxy", async () => {
      const { registry, admin, fab } = await loadFixture(deploySystem);
      await a.revertWithCustomError(
        registry.write.initialize([admin.account.address, fab.address, MIN_STAKE, UNBONDING]),
        registry,
        "InvalidInitialization",
      );
    });

    it("cannot be called on the implementation", async () => {
      const sys = await loadFixture(deploySystem);
      const impl = await viem.getContractAt(
        "NodeRegistry",
        await implementationOf(sys, sys.registry.address),
      );
      await a.revertWithCustomError(
        impl.write.initialize([sys.other.account.address, sys.fab.address, MIN_STAKE, UNBONDING], {
          account: sys.other.account,
        }),
        impl,
        "InvalidInitialization",
      );
    });

    it("validates its arguments and emits the parameter events on a fresh proxy", async () => {
      const sys = await loadFixture(deploySystem);
      const impl = await implementationOf(sys, sys.registry.address);
      const admin = sys.admin.account.address;
      const init = (args: readonly [`0x${string}`, `0x${string}`, bigint, bigint]) =>
        encodeFunctionData({ abi: sys.registry.abi, functionName: "initialize", args });
      await a.revertWithCustomError(
        deployProxy(connection, impl, init([zeroAddress, sys.fab.address, MIN_STAKE, UNBONDING])),
        sys.registry,
        "NodeRegistryZeroAddress",
      );
      await a.revertWithCustomError(
        deployProxy(connection, impl, init([admin, zeroAddress, MIN_STAKE, UNBONDING])),
        sys.registry,
        "NodeRegistryZeroAddress",
      );
      await a.revertWithCustomErrorWithArgs(
        deployProxy(connection, impl, init([admin, sys.fab.address, 0n, UNBONDING])),
        sys.registry,
        "NodeRegistryInvalidAmount",
        [0n],
      );
      await a.revertWithCustomErrorWithArgs(
        deployProxy(connection, impl, init([admin, sys.fab.address, 2n ** 128n, UNBONDING])),
        sys.registry,
        "NodeRegistryInvalidAmount",
        [2n ** 128n],
      );
      await a.revertWithCustomErrorWithArgs(
        deployProxy(
          connection,
          impl,
          init([admin, sys.fab.address, MIN_STAKE, MAX_UNBONDING + 1n]),
        ),
        sys.registry,
        "NodeRegistryInvalidUnbondingPeriod",
        [MAX_UNBONDING + 1n],
      );
      const { address, hash } = await deployProxy(
        connection,
        impl,
        init([admin, sys.fab.address, MIN_STAKE, MAX_UNBONDING]),
      );
      const fresh = await viem.getContractAt("NodeRegistry", address);
      await a.emitWithArgs(hash, fresh, "MinimumStakeUpdated", [0n, MIN_STAKE]);
      await a.emitWithArgs(hash, fresh, "UnbondingPeriodUpdated", [0n, MAX_UNBONDING]);
      await a.emitWithArgs(hash, fresh, "Initialized", [1n]);
      assert.equal(await fresh.read.unbondingPeriod(), MAX_UNBONDING);
      assert.equal(await fresh.read.jobMarketplace(), zeroAddress);
      await a.revertWithCustomError(
        fresh.write.initialize([admin, sys.fab.address, MIN_STAKE, UNBONDING]),
        fresh,
        "InvalidInitialization",
      );
    });

    it("without a marketplace set, unstaking below the minimum and deregistering need no job check", async () => {
      const sys = await loadFixture(deploySystem);
      const impl = await implementationOf(sys, sys.registry.address);
      const { address } = await deployProxy(
        connection,
        impl,
        encodeFunctionData({
          abi: sys.registry.abi,
          functionName: "initialize",
          args: [sys.admin.account.address, sys.fab.address, MIN_STAKE, 0n],
        }),
      );
      const fresh = await viem.getContractAt("NodeRegistry", address);
      // The registry holds stake in FAB's custody (votes stay with the host): it needs the role.
      await sys.fab.write.grantRole([await sys.fab.read.CUSTODIAN_ROLE(), fresh.address]);
      await sys.fab.write.approve([fresh.address, maxUint256], { account: sys.host.account });
      await fresh.write.register([registration({ stake: 2n * MIN_STAKE })], {
        account: sys.host.account,
      });
      await fresh.write.requestUnstake([2n * MIN_STAKE - 1n], { account: sys.host.account });
      await fresh.write.deregister({ account: sys.host.account });
      const [status, stake, , unbonding] = await fresh.read.hostState([sys.host.account.address]);
      assert.equal(status, Unregistered);
      assert.equal(stake, 0n);
      assert.equal(unbonding, 2n * MIN_STAKE);
    });
  });

  // ---------------------------------------------------------------- register

  describe("register", () => {
    it("takes the stake and emits HostRegistered, HostEndpointsUpdated, ModelAdded and PriceUpdated", async () => {
      const f = await loadFixture(registryFixture);
      const r = registration();
      const before = await f.fab.read.balanceOf([f.host.account.address]);
      const hash = await f.registry.write.register([r], { account: f.host.account });
      await a.emitWithArgs(hash, f.registry, "HostRegistered", [
        f.host.account.address,
        r.stake,
        r.hardware,
        r.region,
        r.metadataDigest,
      ]);
      await a.emitWithArgs(hash, f.registry, "HostEndpointsUpdated", [
        f.host.account.address,
        r.endpoints.peerId,
        r.endpoints.multiaddrs,
        r.endpoints.httpUrl,
      ]);
      await a.emitWithArgs(hash, f.registry, "ModelAdded", [f.host.account.address, MODEL]);
      await a.emitWithArgs(hash, f.registry, "PriceUpdated", [
        f.host.account.address,
        MODEL,
        ETH,
        PRICE,
      ]);
      await a.emitWithArgs(hash, f.fab, "Transfer", [
        f.host.account.address,
        f.registry.address,
        r.stake,
      ]);
      assert.equal(await f.fab.read.balanceOf([f.host.account.address]), before - r.stake);
      assert.equal(await f.fab.read.balanceOf([f.registry.address]), r.stake);
    });

    it("records state, profile and capabilities and makes the host discoverable and eligible", async () => {
      const f = await loadFixture(registryFixture);
      const r = registration();
      const hash = await f.registry.write.register([r], { account: f.host.account });
      const ts = await timestampOf(hash);
      assert.deepEqual(await f.registry.read.hostState([f.host.account.address]), [
        Active,
        r.stake,
        ts,
        0n,
        0n,
      ]);
      assert.deepEqual(await f.registry.read.profileOf([f.host.account.address]), {
        hardware: r.hardware,
        region: r.region,
        metadataDigest: r.metadataDigest,
        endpoints: r.endpoints,
      });
      assert.deepEqual(await f.registry.read.modelsOf([f.host.account.address]), [MODEL]);
      assert.deepEqual(await f.registry.read.tokensOf([f.host.account.address, MODEL]), [ETH]);
      assert.equal(await f.registry.read.priceOf([f.host.account.address, MODEL, ETH]), PRICE);
      assert.deepEqual(await f.registry.read.activeHosts([0n, 10n]), [[addr(f.host)], 1n]);
      assert.deepEqual(await f.registry.read.hostsForModel([MODEL, 0n, 10n]), [[addr(f.host)], 1n]);
      assert.deepEqual(
        await f.registry.read.checkEligible([f.host.account.address, offerKey(MODEL, ETH)]),
        [PRICE, r.stake],
        "the price and the stake",
      );
    });

    it("accepts a stake above the minimum", async () => {
      const f = await loadFixture(registryFixture);
      await registerHost(f, f.host, { stake: 2_500n * FAB });
      const [, stake] = await f.registry.read.hostState([f.host.account.address]);
      assert.equal(stake, 2_500n * FAB);
      assert.equal(await f.fab.read.balanceOf([f.registry.address]), 2_500n * FAB);
    });

    it("accepts a registration without offers: active but in no model list", async () => {
      const f = await loadFixture(registryFixture);
      const hash = await f.registry.write.register([registration({ offers: [] })], {
        account: f.host.account,
      });
      assert.equal((await eventsOf(hash, f.registry, "ModelAdded")).length, 0);
      assert.deepEqual(await f.registry.read.modelsOf([f.host.account.address]), []);
      assert.deepEqual(await f.registry.read.activeHosts([0n, 10n]), [[addr(f.host)], 1n]);
      assert.deepEqual(await f.registry.read.hostsForModel([MODEL, 0n, 10n]), [[], 0n]);
    });

    it("accepts a CPU-only host (no GPU, no VRAM)", async () => {
      const f = await loadFixture(registryFixture);
      const hardware = { gpuModel: zeroHash, vramMiB: 0, gpuCount: 0 };
      await registerHost(f, f.host, { hardware });
      assert.deepEqual(
        (await f.registry.read.profileOf([f.host.account.address])).hardware,
        hardware,
      );
    });

    it("with the same (model, token) twice keeps the last price and adds the model once", async () => {
      const f = await loadFixture(registryFixture);
      const r = registration({
        offers: [
          { modelId: MODEL, token: ETH, pricePerToken: 1n },
          { modelId: MODEL, token: ETH, pricePerToken: 2n },
        ],
      });
      const hash = await f.registry.write.register([r], { account: f.host.account });
      assert.equal((await eventsOf(hash, f.registry, "ModelAdded")).length, 1);
      assert.equal((await eventsOf(hash, f.registry, "PriceUpdated")).length, 2);
      assert.equal(await f.registry.read.priceOf([f.host.account.address, MODEL, ETH]), 2n);
      assert.deepEqual(await f.registry.read.tokensOf([f.host.account.address, MODEL]), [ETH]);
    });

    it("reverts below the minimum stake", async () => {
      const f = await loadFixture(registryFixture);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.register([registration({ stake: MIN_STAKE - 1n })], {
          account: f.host.account,
        }),
        f.registry,
        "NodeRegistryStakeBelowMinimum",
        [f.host.account.address, MIN_STAKE - 1n, MIN_STAKE],
      );
    });

    it("reverts when already registered", async () => {
      const f = await loadFixture(hostRegistered);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.register([registration()], { account: f.host.account }),
        f.registry,
        "NodeRegistryAlreadyRegistered",
        [f.host.account.address],
      );
    });

    it("reverts when already registered but paused (unavailable)", async () => {
      const f = await loadFixture(hostRegistered);
      await f.registry.write.setAvailable([false], { account: f.host.account });
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.register([registration()], { account: f.host.account }),
        f.registry,
        "NodeRegistryAlreadyRegistered",
        [f.host.account.address],
      );
    });

    it("reverts without an allowance (ERC20InsufficientAllowance from FAB)", async () => {
      const f = await loadFixture(registryFixture);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.register([registration()], { account: f.newcomer.account }),
        f.fab,
        "ERC20InsufficientAllowance",
        [f.registry.address, 0n, MIN_STAKE],
      );
    });

    it("reverts on a stake above uint128 (it would be truncated)", async () => {
      const f = await loadFixture(registryFixture);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.register([registration({ stake: 2n ** 128n })], {
          account: f.host.account,
        }),
        f.registry,
        "NodeRegistryInvalidAmount",
        [2n ** 128n],
      );
    });

    it("reverts on an offer for model id 0", async () => {
      const f = await loadFixture(registryFixture);
      await a.revertWithCustomError(
        f.registry.write.register(
          [registration({ offers: [{ modelId: zeroHash, token: ETH, pricePerToken: 1n }] })],
          { account: f.host.account },
        ),
        f.registry,
        "NodeRegistryInvalidModel",
      );
    });

    it("reverts on invalid hardware (GPUs without VRAM)", async () => {
      const f = await loadFixture(registryFixture);
      await a.revertWithCustomError(
        f.registry.write.register(
          [registration({ hardware: { gpuModel: zeroHash, vramMiB: 0, gpuCount: 1 } })],
          { account: f.host.account },
        ),
        f.registry,
        "NodeRegistryInvalidHardware",
      );
    });
  });

  // ---------------------------------------------------------------- registerWithPermit

  describe("registerWithPermit", () => {
    it("registers with a signed permit instead of an approval", async () => {
      const f = await loadFixture(registryFixture);
      const deadline = await latestPlus(3_600n);
      const p = await signPermit(f.fab, f.newcomer, f.registry.address, MIN_STAKE, deadline);
      const hash = await f.registry.write.registerWithPermit(
        [registration(), deadline, p.v, p.r, p.s],
        {
          account: f.newcomer.account,
        },
      );
      await a.emitWithArgs(hash, f.registry, "HostRegistered", [
        f.newcomer.account.address,
        MIN_STAKE,
        registration().hardware,
        registration().region,
        registration().metadataDigest,
      ]);
      await a.emitWithArgs(hash, f.fab, "Approval", [
        f.newcomer.account.address,
        f.registry.address,
        MIN_STAKE,
      ]);
      const [status, stake] = await f.registry.read.hostState([f.newcomer.account.address]);
      assert.equal(status, Active);
      assert.equal(stake, MIN_STAKE);
      assert.equal(await f.fab.read.nonces([f.newcomer.account.address]), 1n);
      assert.equal(
        await f.fab.read.allowance([f.newcomer.account.address, f.registry.address]),
        0n,
      );
      assert.equal(
        await f.fab.read.balanceOf([f.newcomer.account.address]),
        10_000n * FAB - MIN_STAKE,
      );
    });

    it("still registers when the permit was front-run (the allowance is what matters)", async () => {
      const f = await loadFixture(registryFixture);
      const deadline = await latestPlus(3_600n);
      const p = await signPermit(f.fab, f.newcomer, f.registry.address, MIN_STAKE, deadline);
      // someone else submits the same permit first
      await f.fab.write.permit(
        [f.newcomer.account.address, f.registry.address, MIN_STAKE, deadline, p.v, p.r, p.s],
        { account: f.other.account },
      );
      await f.registry.write.registerWithPermit([registration(), deadline, p.v, p.r, p.s], {
        account: f.newcomer.account,
      });
      const [status, stake] = await f.registry.read.hostState([f.newcomer.account.address]);
      assert.equal(status, Active);
      assert.equal(stake, MIN_STAKE);
    });

    it("reverts with FAB's ERC20InsufficientAllowance when the permit is invalid and nothing is approved", async () => {
      const f = await loadFixture(registryFixture);
      const deadline = await latestPlus(3_600n);
      // signed by the wrong account
      const p = await signPermit(f.fab, f.third, f.registry.address, MIN_STAKE, deadline);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.registerWithPermit([registration(), deadline, p.v, p.r, p.s], {
          account: f.newcomer.account,
        }),
        f.fab,
        "ERC20InsufficientAllowance",
        [f.registry.address, 0n, MIN_STAKE],
      );
    });

    it("reverts when the permit expired and nothing is approved", async () => {
      const f = await loadFixture(registryFixture);
      const deadline = BigInt(await time.latest());
      const p = await signPermit(f.fab, f.newcomer, f.registry.address, MIN_STAKE, deadline);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.registerWithPermit([registration(), deadline, p.v, p.r, p.s], {
          account: f.newcomer.account,
        }),
        f.fab,
        "ERC20InsufficientAllowance",
        [f.registry.address, 0n, MIN_STAKE],
      );
    });

    it("validates the registration like register", async () => {
      const f = await loadFixture(registryFixture);
      const deadline = await latestPlus(3_600n);
      const stake = MIN_STAKE - 1n;
      const p = await signPermit(f.fab, f.newcomer, f.registry.address, stake, deadline);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.registerWithPermit([registration({ stake }), deadline, p.v, p.r, p.s], {
          account: f.newcomer.account,
        }),
        f.registry,
        "NodeRegistryStakeBelowMinimum",
        [f.newcomer.account.address, stake, MIN_STAKE],
      );
    });
  });

  // ---------------------------------------------------------------- deregister

  describe("deregister", () => {
    it("starts unbonding the whole stake and emits HostDeregistered and ModelRemoved", async () => {
      const f = await loadFixture(hostRegistered);
      await f.registry.write.setOffers(
        [[{ modelId: OTHER_MODEL, token: ETH, pricePerToken: 3n }]],
        {
          account: f.host.account,
        },
      );
      const hash = await f.registry.write.deregister({ account: f.host.account });
      const ts = await timestampOf(hash);
      await a.emitWithArgs(hash, f.registry, "HostDeregistered", [
        f.host.account.address,
        MIN_STAKE,
        ts + UNBONDING,
      ]);
      await a.emitWithArgs(hash, f.registry, "ModelRemoved", [f.host.account.address, MODEL]);
      await a.emitWithArgs(hash, f.registry, "ModelRemoved", [f.host.account.address, OTHER_MODEL]);
      assert.deepEqual(await f.registry.read.hostState([f.host.account.address]), [
        Unregistered,
        0n,
        0n,
        MIN_STAKE,
        ts + UNBONDING,
      ]);
      // the stake stays in the registry until withdrawn
      assert.equal(await f.fab.read.balanceOf([f.registry.address]), MIN_STAKE);
    });

    it("clears the profile, capabilities and discovery entries", async () => {
      const f = await loadFixture(hostRegistered);
      await f.registry.write.deregister({ account: f.host.account });
      const host = f.host.account.address;
      assert.deepEqual(await f.registry.read.profileOf([host]), {
        hardware: { gpuModel: zeroHash, vramMiB: 0, gpuCount: 0 },
        region: zeroHash,
        metadataDigest: zeroHash,
        endpoints: { peerId: "0x", multiaddrs: [], httpUrl: "" },
      });
      assert.deepEqual(await f.registry.read.modelsOf([host]), []);
      assert.deepEqual(await f.registry.read.tokensOf([host, MODEL]), []);
      assert.equal(await f.registry.read.priceOf([host, MODEL, ETH]), 0n);
      assert.deepEqual(await f.registry.read.activeHosts([0n, 10n]), [[], 0n]);
      assert.deepEqual(await f.registry.read.hostsForModel([MODEL, 0n, 10n]), [[], 0n]);
      await a.revertWithCustomErrorWithArgs(
        f.registry.read.checkEligible([host, offerKey(MODEL, ETH)]),
        f.registry,
        "NodeRegistryHostNotActive",
        [host, Unregistered],
      );
    });

    it("works from the paused (unavailable) status", async () => {
      const f = await loadFixture(hostRegistered);
      await f.registry.write.setAvailable([false], { account: f.host.account });
      await f.registry.write.deregister({ account: f.host.account });
      const [status, , , unbonding] = await f.registry.read.hostState([f.host.account.address]);
      assert.equal(status, Unregistered);
      assert.equal(unbonding, MIN_STAKE);
    });

    it("lets the host withdraw after the unbonding period and register again", async () => {
      const f = await loadFixture(hostRegistered);
      await f.registry.write.deregister({ account: f.host.account });
      await time.increase(UNBONDING);
      const before = await f.fab.read.balanceOf([f.host.account.address]);
      await f.registry.write.withdrawUnstaked({ account: f.host.account });
      assert.equal(await f.fab.read.balanceOf([f.host.account.address]), before + MIN_STAKE);
      const hash = await f.registry.write.register([registration()], { account: f.host.account });
      const ts = await timestampOf(hash);
      assert.deepEqual(await f.registry.read.hostState([f.host.account.address]), [
        Active,
        MIN_STAKE,
        ts,
        0n,
        0n,
      ]);
      assert.deepEqual(await f.registry.read.modelsOf([f.host.account.address]), [MODEL]);
    });

    it("lets the host register again while its old stake is still unbonding", async () => {
      const f = await loadFixture(hostRegistered);
      const dereg = await f.registry.write.deregister({ account: f.host.account });
      const releaseAt = (await timestampOf(dereg)) + UNBONDING;
      await f.registry.write.register([registration()], { account: f.host.account });
      const [status, stake, , unbonding, release] = await f.registry.read.hostState([
        f.host.account.address,
      ]);
      assert.equal(status, Active);
      assert.equal(stake, MIN_STAKE);
      assert.equal(unbonding, MIN_STAKE);
      assert.equal(release, releaseAt);
    });

    it("reverts for an unregistered caller", async () => {
      const f = await loadFixture(hostRegistered);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.deregister({ account: f.other.account }),
        f.registry,
        "NodeRegistryNotRegistered",
        [f.other.account.address],
      );
    });
  });

  // ---------------------------------------------------------------- setAvailable

  describe("setAvailable", () => {
    it("false pauses the host: status Paused, out of the active and model lists, not eligible", async () => {
      const f = await loadFixture(threeHosts);
      const hash = await f.registry.write.setAvailable([false], { account: f.host2.account });
      await a.emitWithArgs(hash, f.registry, "HostStatusUpdated", [
        f.host2.account.address,
        Paused,
      ]);
      const [status, stake] = await f.registry.read.hostState([f.host2.account.address]);
      assert.equal(status, Paused);
      assert.equal(stake, MIN_STAKE);
      const [active, total] = await f.registry.read.activeHosts([0n, 10n]);
      assert.equal(total, 2n);
      assert.deepEqual(sorted(active), sorted([addr(f.host), addr(f.third)]));
      assert.deepEqual(await f.registry.read.hostsForModel([MODEL, 0n, 10n]), [[addr(f.host)], 1n]);
      assert.deepEqual(await f.registry.read.hostsForModel([OTHER_MODEL, 0n, 10n]), [
        [addr(f.third)],
        1n,
      ]);
      // capabilities are kept
      assert.deepEqual(
        sorted(await f.registry.read.modelsOf([f.host2.account.address])),
        sorted([MODEL, OTHER_MODEL]),
      );
      await a.revertWithCustomErrorWithArgs(
        f.registry.read.checkEligible([f.host2.account.address, offerKey(MODEL, ETH)]),
        f.registry,
        "NodeRegistryHostNotActive",
        [f.host2.account.address, Paused],
      );
    });

    it("true resumes the host: back in the active and model lists and eligible", async () => {
      const f = await loadFixture(threeHosts);
      await f.registry.write.setAvailable([false], { account: f.host2.account });
      const hash = await f.registry.write.setAvailable([true], { account: f.host2.account });
      await a.emitWithArgs(hash, f.registry, "HostStatusUpdated", [
        f.host2.account.address,
        Active,
      ]);
      const [status] = await f.registry.read.hostState([f.host2.account.address]);
      assert.equal(status, Active);
      const [active, total] = await f.registry.read.activeHosts([0n, 10n]);
      assert.equal(total, 3n);
      assert.deepEqual(sorted(active), sorted([addr(f.host), addr(f.host2), addr(f.third)]));
      const [forModel] = await f.registry.read.hostsForModel([MODEL, 0n, 10n]);
      assert.deepEqual(sorted(forModel), sorted([addr(f.host), addr(f.host2)]));
      const [forOther] = await f.registry.read.hostsForModel([OTHER_MODEL, 0n, 10n]);
      assert.deepEqual(sorted(forOther), sorted([addr(f.host2), addr(f.third)]));
      assert.equal(
        (
          await f.registry.read.checkEligible([
            f.host2.account.address,
            offerKey(OTHER_MODEL, f.usd.address),
          ])
        )[0],
        5n,
      );
    });

    it("reverts NodeRegistrySameStatus when nothing changes", async () => {
      const f = await loadFixture(hostRegistered);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.setAvailable([true], { account: f.host.account }),
        f.registry,
        "NodeRegistrySameStatus",
        [f.host.account.address, Active],
      );
      await f.registry.write.setAvailable([false], { account: f.host.account });
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.setAvailable([false], { account: f.host.account }),
        f.registry,
        "NodeRegistrySameStatus",
        [f.host.account.address, Paused],
      );
    });

    it("reverts for an unregistered caller", async () => {
      const f = await loadFixture(hostRegistered);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.setAvailable([true], { account: f.other.account }),
        f.registry,
        "NodeRegistryNotRegistered",
        [f.other.account.address],
      );
    });

    it("models added while paused join the model list only when the host resumes", async () => {
      const f = await loadFixture(hostRegistered);
      await f.registry.write.setAvailable([false], { account: f.host.account });
      const hash = await f.registry.write.setOffers(
        [[{ modelId: OTHER_MODEL, token: ETH, pricePerToken: 3n }]],
        {
          account: f.host.account,
        },
      );
      await a.emitWithArgs(hash, f.registry, "ModelAdded", [f.host.account.address, OTHER_MODEL]);
      assert.deepEqual(await f.registry.read.hostsForModel([OTHER_MODEL, 0n, 10n]), [[], 0n]);
      await f.registry.write.setAvailable([true], { account: f.host.account });
      assert.deepEqual(await f.registry.read.hostsForModel([OTHER_MODEL, 0n, 10n]), [
        [addr(f.host)],
        1n,
      ]);
    });
  });

  // ---------------------------------------------------------------- setOffers

  describe("setOffers", () => {
    it("adds a new model: ModelAdded + PriceUpdated, listed for discovery", async () => {
      const f = await loadFixture(hostRegistered);
      const hash = await f.registry.write.setOffers(
        [[{ modelId: OTHER_MODEL, token: f.usd.address, pricePerToken: 9n }]],
        { account: f.host.account },
      );
      await a.emitWithArgs(hash, f.registry, "ModelAdded", [f.host.account.address, OTHER_MODEL]);
      await a.emitWithArgs(hash, f.registry, "PriceUpdated", [
        f.host.account.address,
        OTHER_MODEL,
        f.usd.address,
        9n,
      ]);
      assert.deepEqual(
        sorted(await f.registry.read.modelsOf([f.host.account.address])),
        sorted([MODEL, OTHER_MODEL]),
      );
      assert.deepEqual(await f.registry.read.tokensOf([f.host.account.address, OTHER_MODEL]), [
        getAddress(f.usd.address),
      ]);
      assert.deepEqual(await f.registry.read.hostsForModel([OTHER_MODEL, 0n, 10n]), [
        [addr(f.host)],
        1n,
      ]);
      assert.equal(
        (
          await f.registry.read.checkEligible([
            f.host.account.address,
            offerKey(OTHER_MODEL, f.usd.address),
          ])
        )[0],
        9n,
      );
    });

    it("adds a second token to an offered model without ModelAdded", async () => {
      const f = await loadFixture(hostRegistered);
      const hash = await f.registry.write.setOffers(
        [[{ modelId: MODEL, token: f.usd.address, pricePerToken: 4n }]],
        { account: f.host.account },
      );
      assert.equal((await eventsOf(hash, f.registry, "ModelAdded")).length, 0);
      await a.emitWithArgs(hash, f.registry, "PriceUpdated", [
        f.host.account.address,
        MODEL,
        f.usd.address,
        4n,
      ]);
      assert.deepEqual(
        sorted(await f.registry.read.tokensOf([f.host.account.address, MODEL])),
        sorted([ETH, f.usd.address]),
      );
      assert.equal(await f.registry.read.priceOf([f.host.account.address, MODEL, ETH]), PRICE);
      assert.equal(
        await f.registry.read.priceOf([f.host.account.address, MODEL, f.usd.address]),
        4n,
      );
    });

    it("updates a price", async () => {
      const f = await loadFixture(hostRegistered);
      const hash = await f.registry.write.setOffers(
        [[{ modelId: MODEL, token: ETH, pricePerToken: 123n }]],
        {
          account: f.host.account,
        },
      );
      await a.emitWithArgs(hash, f.registry, "PriceUpdated", [
        f.host.account.address,
        MODEL,
        ETH,
        123n,
      ]);
      assert.equal((await eventsOf(hash, f.registry, "ModelAdded")).length, 0);
      assert.equal(await f.registry.read.priceOf([f.host.account.address, MODEL, ETH]), 123n);
      assert.equal(
        (await f.registry.read.checkEligible([f.host.account.address, offerKey(MODEL, ETH)]))[0],
        123n,
      );
    });

    it("price 0 removes one token and keeps the model while another token remains", async () => {
      const f = await loadFixture(hostRegistered);
      await f.registry.write.setOffers(
        [[{ modelId: MODEL, token: f.usd.address, pricePerToken: 4n }]],
        {
          account: f.host.account,
        },
      );
      const hash = await f.registry.write.setOffers(
        [[{ modelId: MODEL, token: ETH, pricePerToken: 0n }]],
        {
          account: f.host.account,
        },
      );
      await a.emitWithArgs(hash, f.registry, "PriceUpdated", [
        f.host.account.address,
        MODEL,
        ETH,
        0n,
      ]);
      assert.equal((await eventsOf(hash, f.registry, "ModelRemoved")).length, 0);
      assert.deepEqual(await f.registry.read.tokensOf([f.host.account.address, MODEL]), [
        getAddress(f.usd.address),
      ]);
      assert.deepEqual(await f.registry.read.modelsOf([f.host.account.address]), [MODEL]);
      assert.deepEqual(await f.registry.read.hostsForModel([MODEL, 0n, 10n]), [[addr(f.host)], 1n]);
      assert.equal(await f.registry.read.priceOf([f.host.account.address, MODEL, ETH]), 0n);
      await a.revertWithCustomErrorWithArgs(
        f.registry.read.checkEligible([f.host.account.address, offerKey(MODEL, ETH)]),
        f.registry,
        "NodeRegistryModelNotOffered",
        [f.host.account.address, offerKey(MODEL, ETH)],
      );
    });

    it("price 0 on the last token of a model removes the model (ModelRemoved)", async () => {
      const f = await loadFixture(hostRegistered);
      const hash = await f.registry.write.setOffers(
        [[{ modelId: MODEL, token: ETH, pricePerToken: 0n }]],
        {
          account: f.host.account,
        },
      );
      await a.emitWithArgs(hash, f.registry, "ModelRemoved", [f.host.account.address, MODEL]);
      await a.emitWithArgs(hash, f.registry, "PriceUpdated", [
        f.host.account.address,
        MODEL,
        ETH,
        0n,
      ]);
      assert.deepEqual(await f.registry.read.modelsOf([f.host.account.address]), []);
      assert.deepEqual(await f.registry.read.tokensOf([f.host.account.address, MODEL]), []);
      assert.deepEqual(await f.registry.read.hostsForModel([MODEL, 0n, 10n]), [[], 0n]);
      // still an active host, just without offers
      assert.deepEqual(await f.registry.read.activeHosts([0n, 10n]), [[addr(f.host)], 1n]);
      await a.revertWithCustomErrorWithArgs(
        f.registry.read.checkEligible([f.host.account.address, offerKey(MODEL, ETH)]),
        f.registry,
        "NodeRegistryModelNotOffered",
        [f.host.account.address, offerKey(MODEL, ETH)],
      );
    });

    it("price 0 for an offer the host does not have is a silent no-op", async () => {
      const f = await loadFixture(hostRegistered);
      const hash = await f.registry.write.setOffers(
        [[{ modelId: OTHER_MODEL, token: ETH, pricePerToken: 0n }]],
        { account: f.host.account },
      );
      const receipt = await publicClient.waitForTransactionReceipt({ hash });
      assert.equal(receipt.status, "success");
      assert.equal(receipt.logs.length, 0);
      assert.deepEqual(await f.registry.read.modelsOf([f.host.account.address]), [MODEL]);
    });

    it("a removed model can be offered again", async () => {
      const f = await loadFixture(hostRegistered);
      await f.registry.write.setOffers([[{ modelId: MODEL, token: ETH, pricePerToken: 0n }]], {
        account: f.host.account,
      });
      const hash = await f.registry.write.setOffers(
        [[{ modelId: MODEL, token: ETH, pricePerToken: 77n }]],
        {
          account: f.host.account,
        },
      );
      await a.emitWithArgs(hash, f.registry, "ModelAdded", [f.host.account.address, MODEL]);
      assert.equal(
        (await f.registry.read.checkEligible([f.host.account.address, offerKey(MODEL, ETH)]))[0],
        77n,
      );
      assert.deepEqual(await f.registry.read.hostsForModel([MODEL, 0n, 10n]), [[addr(f.host)], 1n]);
    });

    it("applies a batch in order (add, then remove, in one call)", async () => {
      const f = await loadFixture(hostRegistered);
      const hash = await f.registry.write.setOffers(
        [
          [
            { modelId: OTHER_MODEL, token: ETH, pricePerToken: 3n },
            { modelId: MODEL, token: ETH, pricePerToken: 0n },
          ],
        ],
        { account: f.host.account },
      );
      await a.emitWithArgs(hash, f.registry, "ModelAdded", [f.host.account.address, OTHER_MODEL]);
      await a.emitWithArgs(hash, f.registry, "ModelRemoved", [f.host.account.address, MODEL]);
      assert.deepEqual(await f.registry.read.modelsOf([f.host.account.address]), [OTHER_MODEL]);
    });

    it("reverts on model id 0 (also for a removal)", async () => {
      const f = await loadFixture(hostRegistered);
      for (const pricePerToken of [1n, 0n]) {
        await a.revertWithCustomError(
          f.registry.write.setOffers([[{ modelId: zeroHash, token: ETH, pricePerToken }]], {
            account: f.host.account,
          }),
          f.registry,
          "NodeRegistryInvalidModel",
        );
      }
    });

    it("reverts for an unregistered caller", async () => {
      const f = await loadFixture(hostRegistered);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.setOffers([[{ modelId: MODEL, token: ETH, pricePerToken: 1n }]], {
          account: f.other.account,
        }),
        f.registry,
        "NodeRegistryNotRegistered",
        [f.other.account.address],
      );
    });
  });

  // ---------------------------------------------------------------- model contexts

  describe("setModelContexts", () => {
    const ctx = (modelId: `0x${string}`, contextLength: number) => ({ modelId, contextLength });

    it("advertises a context length per offered model, one ModelContextUpdated each", async () => {
      const f = await loadFixture(threeHosts);
      const h2 = f.host2.account.address;
      assert.equal(await f.registry.read.contextLengthOf([h2, MODEL]), 0);
      const hash = await f.registry.write.setModelContexts(
        [[ctx(MODEL, 8_192), ctx(OTHER_MODEL, 2_048)]],
        { account: f.host2.account },
      );
      await a.emitWithArgs(hash, f.registry, "ModelContextUpdated", [h2, MODEL, 8_192]);
      await a.emitWithArgs(hash, f.registry, "ModelContextUpdated", [h2, OTHER_MODEL, 2_048]);
      assert.equal((await eventsOf(hash, f.registry, "ModelContextUpdated")).length, 2);
      assert.equal(await f.registry.read.contextLengthOf([h2, MODEL]), 8_192);
      assert.equal(await f.registry.read.contextLengthOf([h2, OTHER_MODEL]), 2_048);
      // per host: another host offering the same model has none
      assert.equal(await f.registry.read.contextLengthOf([f.host.account.address, MODEL]), 0);
    });

    it("replaces a value; within one call the last entry for a model wins", async () => {
      const f = await loadFixture(hostRegistered);
      const host = f.host.account.address;
      await f.registry.write.setModelContexts([[ctx(MODEL, 4_096)]], { account: f.host.account });
      await f.registry.write.setModelContexts([[ctx(MODEL, 1_000), ctx(MODEL, 32_768)]], {
        account: f.host.account,
      });
      assert.equal(await f.registry.read.contextLengthOf([host, MODEL]), 32_768);
      await f.registry.write.setModelContexts([[ctx(MODEL, 2 ** 32 - 1)]], {
        account: f.host.account,
      });
      assert.equal(await f.registry.read.contextLengthOf([host, MODEL]), 2 ** 32 - 1);
      // an empty list changes nothing
      await f.registry.write.setModelContexts([[]], { account: f.host.account });
      assert.equal(await f.registry.read.contextLengthOf([host, MODEL]), 2 ** 32 - 1);
    });

    it("works while the host is paused (unavailable)", async () => {
      const f = await loadFixture(hostRegistered);
      await f.registry.write.setAvailable([false], { account: f.host.account });
      await f.registry.write.setModelContexts([[ctx(MODEL, 4_096)]], { account: f.host.account });
      assert.equal(await f.registry.read.contextLengthOf([f.host.account.address, MODEL]), 4_096);
    });

    it("reverts NodeRegistryModelNotListed for a model the host does not offer", async () => {
      const f = await loadFixture(threeHosts);
      const host = f.host.account.address;
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.setModelContexts([[ctx(MODEL, 4_096), ctx(OTHER_MODEL, 4_096)]], {
          account: f.host.account,
        }),
        f.registry,
        "NodeRegistryModelNotListed",
        [host, OTHER_MODEL],
      );
      // nothing of the reverted call was kept
      assert.equal(await f.registry.read.contextLengthOf([host, MODEL]), 0);
    });

    it("reverts NodeRegistryInvalidContextLength on 0", async () => {
      const f = await loadFixture(hostRegistered);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.setModelContexts([[ctx(MODEL, 0)]], { account: f.host.account }),
        f.registry,
        "NodeRegistryInvalidContextLength",
        [MODEL],
      );
    });

    it("reverts NodeRegistryTooMany above MAX_MODELS entries", async () => {
      const f = await loadFixture(hostRegistered);
      const many = Array.from({ length: 33 }, () => ctx(MODEL, 4_096));
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.setModelContexts([many], { account: f.host.account }),
        f.registry,
        "NodeRegistryTooMany",
        ["contexts", 33n, 32n],
      );
      await f.registry.write.setModelContexts([many.slice(1)], { account: f.host.account });
    });

    it("reverts for an unregistered caller", async () => {
      const f = await loadFixture(hostRegistered);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.setModelContexts([[]], { account: f.other.account }),
        f.registry,
        "NodeRegistryNotRegistered",
        [f.other.account.address],
      );
    });

    it("is cleared (ModelContextUpdated 0) when the model's last offer is withdrawn", async () => {
      const f = await loadFixture(threeHosts);
      const h2 = f.host2.account.address;
      await f.registry.write.setOffers(
        [[{ modelId: OTHER_MODEL, token: ETH, pricePerToken: 9n }]],
        { account: f.host2.account },
      );
      await f.registry.write.setModelContexts([[ctx(OTHER_MODEL, 2_048), ctx(MODEL, 8_192)]], {
        account: f.host2.account,
      });
      // one of two tokens withdrawn: the model is still offered, its context stays
      const partial = await f.registry.write.setOffers(
        [[{ modelId: OTHER_MODEL, token: ETH, pricePerToken: 0n }]],
        { account: f.host2.account },
      );
      assert.equal((await eventsOf(partial, f.registry, "ModelContextUpdated")).length, 0);
      assert.equal(await f.registry.read.contextLengthOf([h2, OTHER_MODEL]), 2_048);
      // the last token withdrawn: the model is removed and its context cleared
      const last = await f.registry.write.setOffers(
        [[{ modelId: OTHER_MODEL, token: f.usd.address, pricePerToken: 0n }]],
        { account: f.host2.account },
      );
      await a.emitWithArgs(last, f.registry, "ModelContextUpdated", [h2, OTHER_MODEL, 0]);
      await a.emitWithArgs(last, f.registry, "ModelRemoved", [h2, OTHER_MODEL]);
      assert.equal(await f.registry.read.contextLengthOf([h2, OTHER_MODEL]), 0);
      assert.equal(await f.registry.read.contextLengthOf([h2, MODEL]), 8_192);
      // offered again, the model starts without a context length
      await f.registry.write.setOffers(
        [[{ modelId: OTHER_MODEL, token: ETH, pricePerToken: 9n }]],
        { account: f.host2.account },
      );
      assert.equal(await f.registry.read.contextLengthOf([h2, OTHER_MODEL]), 0);
    });

    it("emits no clearing event for a removed model that had no context length", async () => {
      const f = await loadFixture(hostRegistered);
      const hash = await f.registry.write.setOffers(
        [[{ modelId: MODEL, token: ETH, pricePerToken: 0n }]],
        { account: f.host.account },
      );
      await a.emitWithArgs(hash, f.registry, "ModelRemoved", [f.host.account.address, MODEL]);
      assert.equal((await eventsOf(hash, f.registry, "ModelContextUpdated")).length, 0);
    });

    it("is cleared for every model when the host deregisters", async () => {
      const f = await loadFixture(threeHosts);
      const h2 = f.host2.account.address;
      await f.registry.write.setModelContexts([[ctx(MODEL, 8_192), ctx(OTHER_MODEL, 2_048)]], {
        account: f.host2.account,
      });
      const hash = await f.registry.write.deregister({ account: f.host2.account });
      await a.emitWithArgs(hash, f.registry, "ModelContextUpdated", [h2, MODEL, 0]);
      await a.emitWithArgs(hash, f.registry, "ModelContextUpdated", [h2, OTHER_MODEL, 0]);
      assert.equal(await f.registry.read.contextLengthOf([h2, MODEL]), 0);
      assert.equal(await f.registry.read.contextLengthOf([h2, OTHER_MODEL]), 0);
      // registered again with the same models: nothing advertised until set again
      await f.registry.write.register([registration()], { account: f.host2.account });
      assert.equal(await f.registry.read.contextLengthOf([h2, MODEL]), 0);
    });
  });

  // ---------------------------------------------------------------- profile updates

  describe("updateHardware", () => {
    it("replaces the hardware and emits HostHardwareUpdated", async () => {
      const f = await loadFixture(hostRegistered);
      const hardware = {
        gpuModel: stringToHex("H100 SXM", { size: 32 }),
        vramMiB: 81_920,
        gpuCount: 8,
      };
      const hash = await f.registry.write.updateHardware([hardware], { account: f.host.account });
      await a.emitWithArgs(hash, f.registry, "HostHardwareUpdated", [
        f.host.account.address,
        hardware,
      ]);
      assert.deepEqual(
        (await f.registry.read.profileOf([f.host.account.address])).hardware,
        hardware,
      );
    });

    it("reverts on GPUs without VRAM", async () => {
      const f = await loadFixture(hostRegistered);
      await a.revertWithCustomError(
        f.registry.write.updateHardware([{ gpuModel: zeroHash, vramMiB: 0, gpuCount: 2 }], {
          account: f.host.account,
        }),
        f.registry,
        "NodeRegistryInvalidHardware",
      );
    });

    it("reverts for an unregistered caller", async () => {
      const f = await loadFixture(hostRegistered);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.updateHardware([registration().hardware], { account: f.other.account }),
        f.registry,
        "NodeRegistryNotRegistered",
        [f.other.account.address],
      );
    });
  });

  describe("updateRegion", () => {
    it("replaces the region and emits HostRegionUpdated", async () => {
      const f = await loadFixture(hostRegistered);
      const region = stringToHex("us-east", { size: 32 });
      const hash = await f.registry.write.updateRegion([region], { account: f.host.account });
      await a.emitWithArgs(hash, f.registry, "HostRegionUpdated", [f.host.account.address, region]);
      assert.equal((await f.registry.read.profileOf([f.host.account.address])).region, region);
    });

    it("reverts for an unregistered caller", async () => {
      const f = await loadFixture(hostRegistered);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.updateRegion([zeroHash], { account: f.other.account }),
        f.registry,
        "NodeRegistryNotRegistered",
        [f.other.account.address],
      );
    });
  });

  describe("updateEndpoints", () => {
    it("replaces the endpoints and emits HostEndpointsUpdated", async () => {
      const f = await loadFixture(hostRegistered);
      const endpoints = {
        peerId:
          "0x0024080112202222222222222222222222222222222222222222222222222222222222" as `0x${string}`,
        multiaddrs: ["/dns4/host.example/tcp/4001", "/ip6/::1/udp/4001/quic-v1"],
        httpUrl: "https://host.example",
      };
      const hash = await f.registry.write.updateEndpoints([endpoints], { account: f.host.account });
      await a.emitWithArgs(hash, f.registry, "HostEndpointsUpdated", [
        f.host.account.address,
        endpoints.peerId,
        endpoints.multiaddrs,
        endpoints.httpUrl,
      ]);
      assert.deepEqual(
        (await f.registry.read.profileOf([f.host.account.address])).endpoints,
        endpoints,
      );
    });

    it("shrinking the multiaddr list leaves no stale entries", async () => {
      const f = await loadFixture(hostRegistered);
      const many = { ...registration().endpoints, multiaddrs: ["/a", "/b", "/c"] };
      await f.registry.write.updateEndpoints([many], { account: f.host.account });
      const one = { ...many, multiaddrs: ["/z"] };
      await f.registry.write.updateEndpoints([one], { account: f.host.account });
      assert.deepEqual(
        (await f.registry.read.profileOf([f.host.account.address])).endpoints.multiaddrs,
        ["/z"],
      );
    });

    it("reverts for an unregistered caller", async () => {
      const f = await loadFixture(hostRegistered);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.updateEndpoints([registration().endpoints], { account: f.other.account }),
        f.registry,
        "NodeRegistryNotRegistered",
        [f.other.account.address],
      );
    });
  });

  describe("updateMetadata", () => {
    it("replaces the digest and emits HostMetadataUpdated", async () => {
      const f = await loadFixture(hostRegistered);
      const digest = keccak256(stringToHex("metadata v2"));
      const hash = await f.registry.write.updateMetadata([digest], { account: f.host.account });
      await a.emitWithArgs(hash, f.registry, "HostMetadataUpdated", [
        f.host.account.address,
        digest,
      ]);
      assert.equal(
        (await f.registry.read.profileOf([f.host.account.address])).metadataDigest,
        digest,
      );
    });

    it("reverts for an unregistered caller", async () => {
      const f = await loadFixture(hostRegistered);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.updateMetadata([zeroHash], { account: f.other.account }),
        f.registry,
        "NodeRegistryNotRegistered",
        [f.other.account.address],
      );
    });
  });

  // ---------------------------------------------------------------- limits

  describe("limits", () => {
    it("exposes the limit constants", async () => {
      const { registry } = await loadFixture(deploySystem);
      assert.equal(await registry.read.MAX_MODELS(), 32n);
      assert.equal(await registry.read.MAX_TOKENS_PER_MODEL(), 8n);
      assert.equal(await registry.read.MAX_MULTIADDRS(), 8n);
      assert.equal(await registry.read.MAX_STRING_BYTES(), 256n);
      assert.equal(await registry.read.MAX_PEER_ID_BYTES(), 64n);
      assert.equal(await registry.read.MAX_UNBONDING_PERIOD(), MAX_UNBONDING);
    });

    it("accepts MAX_MODELS models and rejects one more (NodeRegistryTooMany)", async () => {
      const f = await loadFixture(hostRegistered);
      // the host already offers MODEL: 31 more make 32
      const offers = Array.from({ length: 31 }, (_, i) => ({
        modelId: modelN(i),
        token: ETH,
        pricePerToken: 1n,
      }));
      await f.registry.write.setOffers([offers], { account: f.host.account });
      assert.equal((await f.registry.read.modelsOf([f.host.account.address])).length, 32);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.setOffers([[{ modelId: modelN(31), token: ETH, pricePerToken: 1n }]], {
          account: f.host.account,
        }),
        f.registry,
        "NodeRegistryTooMany",
        ["models", 33n, 32n],
      );
      // a new token for an existing model is still fine
      await f.registry.write.setOffers(
        [[{ modelId: modelN(0), token: f.usd.address, pricePerToken: 1n }]],
        {
          account: f.host.account,
        },
      );
    });

    it("rejects more than MAX_MODELS models at registration", async () => {
      const f = await loadFixture(registryFixture);
      const offers = Array.from({ length: 33 }, (_, i) => ({
        modelId: modelN(i),
        token: ETH,
        pricePerToken: 1n,
      }));
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.register([registration({ offers })], { account: f.host.account }),
        f.registry,
        "NodeRegistryTooMany",
        ["models", 33n, 32n],
      );
    });

    it("accepts MAX_TOKENS_PER_MODEL tokens for a model and rejects one more", async () => {
      const f = await loadFixture(hostRegistered);
      // MODEL already has ETH: 7 more make 8
      const offers = Array.from({ length: 7 }, (_, i) => ({
        modelId: MODEL,
        token: tokenN(i),
        pricePerToken: 1n,
      }));
      await f.registry.write.setOffers([offers], { account: f.host.account });
      assert.equal((await f.registry.read.tokensOf([f.host.account.address, MODEL])).length, 8);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.setOffers([[{ modelId: MODEL, token: tokenN(7), pricePerToken: 1n }]], {
          account: f.host.account,
        }),
        f.registry,
        "NodeRegistryTooMany",
        ["tokens", 9n, 8n],
      );
      // re-pricing an existing token at the limit is fine
      await f.registry.write.setOffers(
        [[{ modelId: MODEL, token: tokenN(0), pricePerToken: 2n }]],
        {
          account: f.host.account,
        },
      );
      assert.equal(await f.registry.read.priceOf([f.host.account.address, MODEL, tokenN(0)]), 2n);
    });

    it("accepts MAX_MULTIADDRS multiaddrs and rejects one more", async () => {
      const f = await loadFixture(hostRegistered);
      const base = registration().endpoints;
      const eight = Array.from({ length: 8 }, (_, i) => `/ip4/10.0.0.${i}/tcp/4001`);
      await f.registry.write.updateEndpoints([{ ...base, multiaddrs: eight }], {
        account: f.host.account,
      });
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.updateEndpoints(
          [{ ...base, multiaddrs: [...eight, "/ip4/10.0.0.9/tcp/4001"] }],
          {
            account: f.host.account,
          },
        ),
        f.registry,
        "NodeRegistryTooMany",
        ["multiaddrs", 9n, 8n],
      );
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.register(
          [registration({ endpoints: { ...base, multiaddrs: [...eight, "/x"] } })],
          { account: f.host2.account },
        ),
        f.registry,
        "NodeRegistryTooMany",
        ["multiaddrs", 9n, 8n],
      );
    });

    it("accepts a 64-byte peer id and rejects 65 bytes (NodeRegistryTooLong)", async () => {
      const f = await loadFixture(hostRegistered);
      const base = registration().endpoints;
      await f.registry.write.updateEndpoints([{ ...base, peerId: `0x${"ab".repeat(64)}` }], {
        account: f.host.account,
      });
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.updateEndpoints([{ ...base, peerId: `0x${"ab".repeat(65)}` }], {
          account: f.host.account,
        }),
        f.registry,
        "NodeRegistryTooLong",
        ["peerId", 65n, 64n],
      );
    });

    it("accepts a 256-byte HTTP URL and rejects 257 bytes", async () => {
      const f = await loadFixture(hostRegistered);
      const base = registration().endpoints;
      await f.registry.write.updateEndpoints([{ ...base, httpUrl: "h".repeat(256) }], {
        account: f.host.account,
      });
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.updateEndpoints([{ ...base, httpUrl: "h".repeat(257) }], {
          account: f.host.account,
        }),
        f.registry,
        "NodeRegistryTooLong",
        ["httpUrl", 257n, 256n],
      );
    });

    it("counts string length in UTF-8 bytes, not characters", async () => {
      const f = await loadFixture(hostRegistered);
      const base = registration().endpoints;
      // 129 two-byte characters = 258 bytes
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.updateEndpoints([{ ...base, httpUrl: "é".repeat(129) }], {
          account: f.host.account,
        }),
        f.registry,
        "NodeRegistryTooLong",
        ["httpUrl", 258n, 256n],
      );
    });

    it("accepts a 256-byte multiaddr and rejects 257 bytes", async () => {
      const f = await loadFixture(hostRegistered);
      const base = registration().endpoints;
      await f.registry.write.updateEndpoints([{ ...base, multiaddrs: ["/ok", "m".repeat(256)] }], {
        account: f.host.account,
      });
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.updateEndpoints([{ ...base, multiaddrs: ["/ok", "m".repeat(257)] }], {
          account: f.host.account,
        }),
        f.registry,
        "NodeRegistryTooLong",
        ["multiaddr", 257n, 256n],
      );
    });
  });

  // ---------------------------------------------------------------- stake

  describe("addStake", () => {
    it("adds to the stake, pulls the FAB and emits StakeAdded(host, amount, stake)", async () => {
      const f = await loadFixture(hostRegistered);
      const before = await f.fab.read.balanceOf([f.host.account.address]);
      const hash = await f.registry.write.addStake([250n * FAB], { account: f.host.account });
      await a.emitWithArgs(hash, f.registry, "StakeAdded", [
        f.host.account.address,
        250n * FAB,
        MIN_STAKE + 250n * FAB,
      ]);
      const [, stake] = await f.registry.read.hostState([f.host.account.address]);
      assert.equal(stake, MIN_STAKE + 250n * FAB);
      assert.equal(await f.fab.read.balanceOf([f.host.account.address]), before - 250n * FAB);
      assert.equal(await f.fab.read.balanceOf([f.registry.address]), MIN_STAKE + 250n * FAB);
    });

    it("works while the host is paused (unavailable)", async () => {
      const f = await loadFixture(hostRegistered);
      await f.registry.write.setAvailable([false], { account: f.host.account });
      await f.registry.write.addStake([1n], { account: f.host.account });
      const [, stake] = await f.registry.read.hostState([f.host.account.address]);
      assert.equal(stake, MIN_STAKE + 1n);
    });

    it("restores eligibility after the minimum was raised", async () => {
      const f = await loadFixture(hostRegistered);
      await f.registry.write.setMinimumStake([2n * MIN_STAKE]);
      await a.revertWithCustomError(
        f.registry.read.checkEligible([f.host.account.address, offerKey(MODEL, ETH)]),
        f.registry,
        "NodeRegistryStakeBelowMinimum",
      );
      await f.registry.write.addStake([MIN_STAKE], { account: f.host.account });
      assert.equal(
        (await f.registry.read.checkEligible([f.host.account.address, offerKey(MODEL, ETH)]))[0],
        PRICE,
      );
    });

    it("reverts on zero", async () => {
      const f = await loadFixture(hostRegistered);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.addStake([0n], { account: f.host.account }),
        f.registry,
        "NodeRegistryInvalidAmount",
        [0n],
      );
    });

    it("reverts above uint128", async () => {
      const f = await loadFixture(hostRegistered);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.addStake([2n ** 128n], { account: f.host.account }),
        f.registry,
        "NodeRegistryInvalidAmount",
        [2n ** 128n],
      );
    });

    it(
      "refuses a stake that would exceed uint128 instead of truncating it (reachable only with a FAB " +
        "supply above 2^128)",
      async () => {
        const f = await loadFixture(registryFixture);
        const admin = f.admin.account.address;
        const host = f.host.account;
        const bigFab = await viem.getContractAt(
          "FABToken",
          (
            await deployProxy(
              connection,
              await implementationOf(f, f.fab.address),
              encodeFunctionData({
                abi: f.fab.abi,
                functionName: "initialize",
                args: [admin, host.address, 2n ** 129n],
              }),
            )
          ).address,
        );
        const reg = await viem.getContractAt(
          "NodeRegistry",
          (
            await deployProxy(
              connection,
              await implementationOf(f, f.registry.address),
              encodeFunctionData({
                abi: f.registry.abi,
                functionName: "initialize",
                args: [admin, bigFab.address, MIN_STAKE, UNBONDING],
              }),
            )
          ).address,
        );
        await bigFab.write.grantRole([await bigFab.read.CUSTODIAN_ROLE(), reg.address]);
        await bigFab.write.approve([reg.address, maxUint256], { account: host });
        await reg.write.register([registration({ stake: 2n ** 127n })], { account: host });
        // 2^127 + 2^127 = 2^128 does not fit the uint128 stake: this must revert, not store 0
        await a.revertWithCustomErrorWithArgs(
          reg.write.addStake([2n ** 127n], { account: host }),
          reg,
          "SafeCastOverflowedUintDowncast",
          [128, 2n ** 128n],
        );
        const [, stake] = await reg.read.hostState([host.address]);
        assert.equal(stake, 2n ** 127n);
      },
    );

    it("reverts for an unregistered caller", async () => {
      const f = await loadFixture(hostRegistered);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.addStake([1n], { account: f.host2.account }),
        f.registry,
        "NodeRegistryNotRegistered",
        [f.host2.account.address],
      );
    });
  });

  describe("addStakeWithPermit", () => {
    it("adds stake with a signed permit instead of an approval", async () => {
      const f = await loadFixture(hostRegistered);
      await f.fab.write.approve([f.registry.address, 0n], { account: f.host.account });
      const amount = 300n * FAB;
      const deadline = await latestPlus(3_600n);
      const p = await signPermit(f.fab, f.host, f.registry.address, amount, deadline);
      const hash = await f.registry.write.addStakeWithPermit([amount, deadline, p.v, p.r, p.s], {
        account: f.host.account,
      });
      await a.emitWithArgs(hash, f.registry, "StakeAdded", [
        f.host.account.address,
        amount,
        MIN_STAKE + amount,
      ]);
      await a.emitWithArgs(hash, f.fab, "Approval", [
        f.host.account.address,
        f.registry.address,
        amount,
      ]);
      assert.equal(await f.fab.read.allowance([f.host.account.address, f.registry.address]), 0n);
      assert.equal(await f.fab.read.nonces([f.host.account.address]), 1n);
    });

    it("reverts with FAB's ERC20InsufficientAllowance when the permit is invalid and nothing is approved", async () => {
      const f = await loadFixture(hostRegistered);
      await f.fab.write.approve([f.registry.address, 0n], { account: f.host.account });
      const deadline = await latestPlus(3_600n);
      // signed for a smaller amount than requested
      const p = await signPermit(f.fab, f.host, f.registry.address, 1n, deadline);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.addStakeWithPermit([5n, deadline, p.v, p.r, p.s], {
          account: f.host.account,
        }),
        f.fab,
        "ERC20InsufficientAllowance",
        [f.registry.address, 0n, 5n],
      );
    });

    it("uses an existing allowance when the permit fails", async () => {
      const f = await loadFixture(hostRegistered);
      const p = { v: 27, r: zeroHash, s: zeroHash };
      await f.registry.write.addStakeWithPermit([5n, 0n, p.v, p.r, p.s], {
        account: f.host.account,
      });
      const [, stake] = await f.registry.read.hostState([f.host.account.address]);
      assert.equal(stake, MIN_STAKE + 5n);
    });

    it("reverts for an unregistered caller", async () => {
      const f = await loadFixture(hostRegistered);
      const deadline = await latestPlus(3_600n);
      const p = await signPermit(f.fab, f.newcomer, f.registry.address, 1n, deadline);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.addStakeWithPermit([1n, deadline, p.v, p.r, p.s], {
          account: f.newcomer.account,
        }),
        f.registry,
        "NodeRegistryNotRegistered",
        [f.newcomer.account.address],
      );
    });
  });

  // ---------------------------------------------------------------- unstake

  describe("requestUnstake", () => {
    it("moves stake into unbonding and emits UnstakeRequested(host, amount, stake, unbonding, releaseAt)", async () => {
      const f = await loadFixture(hostRegistered);
      await f.registry.write.addStake([MIN_STAKE], { account: f.host.account });
      const hash = await f.registry.write.requestUnstake([300n * FAB], { account: f.host.account });
      const ts = await timestampOf(hash);
      await a.emitWithArgs(hash, f.registry, "UnstakeRequested", [
        f.host.account.address,
        300n * FAB,
        2n * MIN_STAKE - 300n * FAB,
        300n * FAB,
        ts + UNBONDING,
      ]);
      const [status, stake, , unbonding, releaseAt] = await f.registry.read.hostState([
        f.host.account.address,
      ]);
      assert.equal(status, Active);
      assert.equal(stake, 2n * MIN_STAKE - 300n * FAB);
      assert.equal(unbonding, 300n * FAB);
      assert.equal(releaseAt, ts + UNBONDING);
      // nothing leaves the registry yet
      assert.equal(await f.fab.read.balanceOf([f.registry.address]), 2n * MIN_STAKE);
    });

    it("a second request adds to the unbonding amount and restarts the clock for all of it", async () => {
      const f = await loadFixture(hostRegistered);
      await f.registry.write.requestUnstake([100n], { account: f.host.account });
      await time.increase(3n * DAY);
      const hash = await f.registry.write.requestUnstake([50n], { account: f.host.account });
      const ts = await timestampOf(hash);
      await a.emitWithArgs(hash, f.registry, "UnstakeRequested", [
        f.host.account.address,
        50n,
        MIN_STAKE - 150n,
        150n,
        ts + UNBONDING,
      ]);
      const [, , , unbonding, releaseAt] = await f.registry.read.hostState([
        f.host.account.address,
      ]);
      assert.equal(unbonding, 150n);
      assert.equal(releaseAt, ts + UNBONDING);
    });

    it("without unfinished jobs may go below the minimum, which makes the host ineligible", async () => {
      const f = await loadFixture(hostRegistered);
      await f.registry.write.requestUnstake([1n], { account: f.host.account });
      await a.revertWithCustomErrorWithArgs(
        f.registry.read.checkEligible([f.host.account.address, offerKey(MODEL, ETH)]),
        f.registry,
        "NodeRegistryStakeBelowMinimum",
        [f.host.account.address, MIN_STAKE - 1n, MIN_STAKE],
      );
    });

    it("may unstake everything while staying registered", async () => {
      const f = await loadFixture(hostRegistered);
      await f.registry.write.requestUnstake([MIN_STAKE], { account: f.host.account });
      const [status, stake, , unbonding] = await f.registry.read.hostState([
        f.host.account.address,
      ]);
      assert.equal(status, Active);
      assert.equal(stake, 0n);
      assert.equal(unbonding, MIN_STAKE);
    });

    it("uses the unbonding period in force at request time", async () => {
      const f = await loadFixture(hostRegistered);
      await f.registry.write.setUnbondingPeriod([DAY]);
      const hash = await f.registry.write.requestUnstake([1n], { account: f.host.account });
      const [, , , , releaseAt] = await f.registry.read.hostState([f.host.account.address]);
      assert.equal(releaseAt, (await timestampOf(hash)) + DAY);
    });

    it("reverts on zero", async () => {
      const f = await loadFixture(hostRegistered);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.requestUnstake([0n], { account: f.host.account }),
        f.registry,
        "NodeRegistryInvalidAmount",
        [0n],
      );
    });

    it("reverts above the stake", async () => {
      const f = await loadFixture(hostRegistered);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.requestUnstake([MIN_STAKE + 1n], { account: f.host.account }),
        f.registry,
        "NodeRegistryInsufficientStake",
        [f.host.account.address, MIN_STAKE, MIN_STAKE + 1n],
      );
    });

    it("reverts for an unregistered caller", async () => {
      const f = await loadFixture(hostRegistered);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.requestUnstake([1n], { account: f.host2.account }),
        f.registry,
        "NodeRegistryNotRegistered",
        [f.host2.account.address],
      );
    });
  });

  describe("withdrawUnstaked", () => {
    async function unstaking(connection: NetworkConnection) {
      const f = await hostRegistered(connection);
      const hash = await f.registry.write.requestUnstake([400n * FAB], { account: f.host.account });
      const receipt = await f.publicClient.waitForTransactionReceipt({ hash });
      const block = await f.publicClient.getBlock({ blockNumber: receipt.blockNumber });
      return { ...f, releaseAt: block.timestamp + UNBONDING };
    }

    it("reverts NodeRegistryUnbondingNotOver before the release time", async () => {
      const f = await loadFixture(unstaking);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.withdrawUnstaked({ account: f.host.account }),
        f.registry,
        "NodeRegistryUnbondingNotOver",
        [f.host.account.address, f.releaseAt],
      );
      await time.increaseTo(f.releaseAt - 2n);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.withdrawUnstaked({ account: f.host.account }),
        f.registry,
        "NodeRegistryUnbondingNotOver",
        [f.host.account.address, f.releaseAt],
      );
    });

    it("pays out exactly at the release time and emits UnstakeWithdrawn", async () => {
      const f = await loadFixture(unstaking);
      const before = await f.fab.read.balanceOf([f.host.account.address]);
      await time.setNextBlockTimestamp(f.releaseAt);
      const hash = await f.registry.write.withdrawUnstaked({ account: f.host.account });
      assert.equal(await timestampOf(hash), f.releaseAt);
      await a.emitWithArgs(hash, f.registry, "UnstakeWithdrawn", [
        f.host.account.address,
        400n * FAB,
      ]);
      await a.emitWithArgs(hash, f.fab, "Transfer", [
        f.registry.address,
        f.host.account.address,
        400n * FAB,
      ]);
      assert.equal(await f.fab.read.balanceOf([f.host.account.address]), before + 400n * FAB);
      assert.equal(await f.fab.read.balanceOf([f.registry.address]), MIN_STAKE - 400n * FAB);
      const [status, stake, , unbonding, releaseAt] = await f.registry.read.hostState([
        f.host.account.address,
      ]);
      assert.equal(status, Active);
      assert.equal(stake, MIN_STAKE - 400n * FAB);
      assert.equal(unbonding, 0n);
      assert.equal(releaseAt, 0n);
    });

    it("reverts NodeRegistryNothingToWithdraw when nothing is unbonding", async () => {
      const f = await loadFixture(unstaking);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.withdrawUnstaked({ account: f.host2.account }),
        f.registry,
        "NodeRegistryNothingToWithdraw",
        [f.host2.account.address],
      );
      await time.increaseTo(f.releaseAt);
      await f.registry.write.withdrawUnstaked({ account: f.host.account });
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.withdrawUnstaked({ account: f.host.account }),
        f.registry,
        "NodeRegistryNothingToWithdraw",
        [f.host.account.address],
      );
    });
  });

  // ---------------------------------------------------------------- unfinished jobs

  describe("unfinished jobs", () => {
    it("a claimed job counts as unfinished", async () => {
      const f = await loadFixture(hostWithClaimedJob);
      assert.equal(await f.marketplace.read.activeJobCount([f.host.account.address]), 1n);
    });

    it("block deregistering (NodeRegistryUnfinishedJobs)", async () => {
      const f = await loadFixture(hostWithClaimedJob);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.deregister({ account: f.host.account }),
        f.registry,
        "NodeRegistryUnfinishedJobs",
        [f.host.account.address, 1n],
      );
    });

    it("block an unstake request that would leave less than the minimum", async () => {
      const f = await loadFixture(hostWithClaimedJob);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.requestUnstake([1n], { account: f.host.account }),
        f.registry,
        "NodeRegistryUnfinishedJobs",
        [f.host.account.address, 1n],
      );
    });

    it("still allow unstaking the excess above the minimum", async () => {
      const f = await loadFixture(hostWithClaimedJob);
      await f.registry.write.addStake([500n * FAB], { account: f.host.account });
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.requestUnstake([500n * FAB + 1n], { account: f.host.account }),
        f.registry,
        "NodeRegistryUnfinishedJobs",
        [f.host.account.address, 1n],
      );
      await f.registry.write.requestUnstake([500n * FAB], { account: f.host.account });
      const [, stake, , unbonding] = await f.registry.read.hostState([f.host.account.address]);
      assert.equal(stake, MIN_STAKE);
      assert.equal(unbonding, 500n * FAB);
    });

    it("count every unfinished job", async () => {
      const f = await loadFixture(hostWithClaimedJob);
      const { jobId } = await postJob(f);
      await f.marketplace.write.claimJob([jobId], { account: f.host.account });
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.deregister({ account: f.host.account }),
        f.registry,
        "NodeRegistryUnfinishedJobs",
        [f.host.account.address, 2n],
      );
    });

    it("do not affect other hosts", async () => {
      const f = await loadFixture(hostWithClaimedJob);
      await registerHost(f, f.host2);
      await f.registry.write.deregister({ account: f.host2.account });
      const [status] = await f.registry.read.hostState([f.host2.account.address]);
      assert.equal(status, Unregistered);
    });

    it("a completed job stays unfinished through the dispute window, until its payment is released", async () => {
      const f = await loadFixture(hostWithClaimedJob);
      await f.marketplace.write.completeJob([f.jobId, OUTPUT, 500], { account: f.host.account });
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.deregister({ account: f.host.account }),
        f.registry,
        "NodeRegistryUnfinishedJobs",
        [f.host.account.address, 1n],
      );
      await time.increase(DAY + 1n);
      await f.marketplace.write.releasePayment([f.jobId], { account: f.other.account });
      assert.equal(await f.marketplace.read.activeJobCount([f.host.account.address]), 0n);
      await f.registry.write.deregister({ account: f.host.account });
      const [status, , , unbonding] = await f.registry.read.hostState([f.host.account.address]);
      assert.equal(status, Unregistered);
      assert.equal(unbonding, MIN_STAKE);
    });

    it("once the job is settled (accepted), the host may unstake below the minimum and deregister", async () => {
      const f = await loadFixture(hostWithClaimedJob);
      await f.marketplace.write.completeJob([f.jobId, OUTPUT, 500], { account: f.host.account });
      await f.marketplace.write.acceptJob([f.jobId], { account: f.renter.account });
      await f.registry.write.requestUnstake([1n], { account: f.host.account });
      await f.registry.write.deregister({ account: f.host.account });
      const [status, stake, , unbonding] = await f.registry.read.hostState([
        f.host.account.address,
      ]);
      assert.equal(status, Unregistered);
      assert.equal(stake, 0n);
      assert.equal(unbonding, MIN_STAKE);
    });

    it("once the job expired (an abandoned claim, slashed 1%), the host may unstake the rest and deregister", async () => {
      const f = await loadFixture(hostWithClaimedJob);
      await time.increaseTo(f.request.deadline + 1n);
      await f.marketplace.write.expireJob([f.jobId], { account: f.other.account });
      const left = MIN_STAKE - MIN_STAKE / 100n;
      const [, stake] = await f.registry.read.hostState([f.host.account.address]);
      assert.equal(stake, left);
      await f.registry.write.requestUnstake([left], { account: f.host.account });
      await f.registry.write.deregister({ account: f.host.account });
      const [status, , , unbonding] = await f.registry.read.hostState([f.host.account.address]);
      assert.equal(status, Unregistered);
      assert.equal(unbonding, left);
    });

    it("a disputed job stays unfinished until the arbiter resolves it", async () => {
      const f = await loadFixture(hostWithClaimedJob);
      await f.marketplace.write.completeJob([f.jobId, OUTPUT, 500], { account: f.host.account });
      await f.marketplace.write.disputeJob([f.jobId, keccak256(stringToHex("bad output"))], {
        account: f.renter.account,
        value: await f.marketplace.read.disputeBondOf([f.jobId]),
      });
      await time.increase(DAY + 1n);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.requestUnstake([1n], { account: f.host.account }),
        f.registry,
        "NodeRegistryUnfinishedJobs",
        [f.host.account.address, 1n],
      );
      await f.marketplace.write.resolveDispute([f.jobId, 5_000]);
      await f.registry.write.requestUnstake([1n], { account: f.host.account });
      const [, stake] = await f.registry.read.hostState([f.host.account.address]);
      assert.equal(stake, MIN_STAKE - 1n);
    });
  });

  // ---------------------------------------------------------------- slash

  describe("slash", () => {
    it("takes from the stake, pays the recipient and emits HostSlashed", async () => {
      const f = await loadFixture(hostRegistered);
      const recipient = f.other.account.address;
      const hash = await f.registry.write.slash(
        [f.host.account.address, 300n * FAB, recipient, REASON],
        {
          account: f.slasher.account,
        },
      );
      await a.emitWithArgs(hash, f.registry, "HostSlashed", [
        f.host.account.address,
        recipient,
        300n * FAB,
        REASON,
        MIN_STAKE - 300n * FAB,
        0n,
      ]);
      assert.equal(await f.fab.read.balanceOf([recipient]), 300n * FAB);
      assert.equal(await f.fab.read.balanceOf([f.registry.address]), MIN_STAKE - 300n * FAB);
      const [status, stake] = await f.registry.read.hostState([f.host.account.address]);
      assert.equal(status, Active);
      assert.equal(stake, MIN_STAKE - 300n * FAB);
      await a.revertWithCustomErrorWithArgs(
        f.registry.read.checkEligible([f.host.account.address, offerKey(MODEL, ETH)]),
        f.registry,
        "NodeRegistryStakeBelowMinimum",
        [f.host.account.address, MIN_STAKE - 300n * FAB, MIN_STAKE],
      );
    });

    it("takes the stake first, then the unbonding stake", async () => {
      const f = await loadFixture(hostRegistered);
      await f.registry.write.requestUnstake([400n * FAB], { account: f.host.account });
      const [, , , , releaseBefore] = await f.registry.read.hostState([f.host.account.address]);
      const hash = await f.registry.write.slash(
        [f.host.account.address, 800n * FAB, f.other.account.address, REASON],
        { account: f.slasher.account },
      );
      await a.emitWithArgs(hash, f.registry, "HostSlashed", [
        f.host.account.address,
        f.other.account.address,
        800n * FAB,
        REASON,
        0n,
        200n * FAB,
      ]);
      const [, stake, , unbonding, releaseAt] = await f.registry.read.hostState([
        f.host.account.address,
      ]);
      assert.equal(stake, 0n);
      assert.equal(unbonding, 200n * FAB);
      assert.equal(releaseAt, releaseBefore);
      // only what is left unbonding can be withdrawn
      await time.increase(UNBONDING);
      const hashW = await f.registry.write.withdrawUnstaked({ account: f.host.account });
      await a.emitWithArgs(hashW, f.registry, "UnstakeWithdrawn", [
        f.host.account.address,
        200n * FAB,
      ]);
      assert.equal(await f.fab.read.balanceOf([f.registry.address]), 0n);
    });

    it("can take everything, stake and unbonding", async () => {
      const f = await loadFixture(hostRegistered);
      await f.registry.write.requestUnstake([400n * FAB], { account: f.host.account });
      await f.registry.write.slash(
        [f.host.account.address, MIN_STAKE, f.other.account.address, REASON],
        {
          account: f.slasher.account,
        },
      );
      const [, stake, , unbonding] = await f.registry.read.hostState([f.host.account.address]);
      assert.equal(stake, 0n);
      assert.equal(unbonding, 0n);
      await time.increase(UNBONDING);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.withdrawUnstaked({ account: f.host.account }),
        f.registry,
        "NodeRegistryNothingToWithdraw",
        [f.host.account.address],
      );
    });

    it("reaches a deregistered host's unbonding stake", async () => {
      const f = await loadFixture(hostRegistered);
      await f.registry.write.deregister({ account: f.host.account });
      await f.registry.write.slash(
        [f.host.account.address, 100n * FAB, f.other.account.address, REASON],
        {
          account: f.slasher.account,
        },
      );
      const [status, stake, , unbonding] = await f.registry.read.hostState([
        f.host.account.address,
      ]);
      assert.equal(status, Unregistered);
      assert.equal(stake, 0n);
      assert.equal(unbonding, MIN_STAKE - 100n * FAB);
    });

    it("reverts when slashing more than stake + unbonding", async () => {
      const f = await loadFixture(hostRegistered);
      await f.registry.write.requestUnstake([400n * FAB], { account: f.host.account });
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.slash(
          [f.host.account.address, MIN_STAKE + 1n, f.other.account.address, REASON],
          {
            account: f.slasher.account,
          },
        ),
        f.registry,
        "NodeRegistryInsufficientStake",
        [f.host.account.address, MIN_STAKE, MIN_STAKE + 1n],
      );
    });

    it("reverts on zero amount and zero recipient", async () => {
      const f = await loadFixture(hostRegistered);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.slash([f.host.account.address, 0n, f.other.account.address, REASON], {
          account: f.slasher.account,
        }),
        f.registry,
        "NodeRegistryInvalidAmount",
        [0n],
      );
      await a.revertWithCustomError(
        f.registry.write.slash([f.host.account.address, 1n, zeroAddress, REASON], {
          account: f.slasher.account,
        }),
        f.registry,
        "NodeRegistryZeroAddress",
      );
    });

    it("reverts for an account without SLASHER_ROLE (even the admin)", async () => {
      const f = await loadFixture(hostRegistered);
      for (const w of [f.admin, f.other]) {
        await a.revertWithCustomErrorWithArgs(
          f.registry.write.slash([f.host.account.address, 1n, w.account.address, REASON], {
            account: w.account,
          }),
          f.registry,
          "AccessControlUnauthorizedAccount",
          [w.account.address, SLASHER_ROLE],
        );
      }
    });

    it("still works while the registry is paused", async () => {
      const f = await loadFixture(hostRegistered);
      await f.registry.write.pause();
      await f.registry.write.slash([f.host.account.address, 1n, f.other.account.address, REASON], {
        account: f.slasher.account,
      });
      const [, stake] = await f.registry.read.hostState([f.host.account.address]);
      assert.equal(stake, MIN_STAKE - 1n);
    });
  });

  // ---------------------------------------------------------------- pause

  describe("pause / unpause", () => {
    it("only PAUSER_ROLE can pause, only the admin unpause", async () => {
      const f = await loadFixture(hostRegistered);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.pause({ account: f.other.account }),
        f.registry,
        "AccessControlUnauthorizedAccount",
        [f.other.account.address, PAUSER_ROLE],
      );
      await a.emitWithArgs(f.registry.write.pause(), f.registry, "Paused", [
        f.admin.account.address,
      ]);
      assert.equal(await f.registry.read.paused(), true);
      // Unpausing is the admin's (governance's), not the pauser's (the guardian's).
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.unpause({ account: f.other.account }),
        f.registry,
        "AccessControlUnauthorizedAccount",
        [f.other.account.address, zeroHash],
      );
      await a.emitWithArgs(f.registry.write.unpause(), f.registry, "Unpaused", [
        f.admin.account.address,
      ]);
      assert.equal(await f.registry.read.paused(), false);
      await a.revertWithCustomError(f.registry.write.unpause(), f.registry, "ExpectedPause");
    });

    it("blocks every host-side write with EnforcedPause", async () => {
      const f = await loadFixture(hostRegistered);
      await f.registry.write.requestUnstake([1n], { account: f.host.account });
      await time.increase(UNBONDING);
      await f.registry.write.pause();
      const host = { account: f.host.account };
      const deadline = await latestPlus(3_600n);
      const p = await signPermit(f.fab, f.newcomer, f.registry.address, MIN_STAKE, deadline);
      const calls = {
        register: () => f.registry.write.register([registration()], { account: f.host2.account }),
        registerWithPermit: () =>
          f.registry.write.registerWithPermit([registration(), deadline, p.v, p.r, p.s], {
            account: f.newcomer.account,
          }),
        deregister: () => f.registry.write.deregister(host),
        setAvailable: () => f.registry.write.setAvailable([false], host),
        setOffers: () =>
          f.registry.write.setOffers([[{ modelId: MODEL, token: ETH, pricePerToken: 1n }]], host),
        setModelContexts: () =>
          f.registry.write.setModelContexts([[{ modelId: MODEL, contextLength: 4_096 }]], host),
        updateHardware: () => f.registry.write.updateHardware([registration().hardware], host),
        updateRegion: () => f.registry.write.updateRegion([zeroHash], host),
        updateEndpoints: () => f.registry.write.updateEndpoints([registration().endpoints], host),
        updateMetadata: () => f.registry.write.updateMetadata([zeroHash], host),
        addStake: () => f.registry.write.addStake([1n], host),
        addStakeWithPermit: () =>
          f.registry.write.addStakeWithPermit([1n, deadline, p.v, p.r, p.s], host),
        requestUnstake: () => f.registry.write.requestUnstake([1n], host),
        withdrawUnstaked: () => f.registry.write.withdrawUnstaked(host),
      };
      for (const [name, call] of Object.entries(calls)) {
        await a.revertWithCustomError(call(), f.registry, "EnforcedPause").catch((e: Error) => {
          throw new Error(`${name}: ${e.message}`);
        });
      }
    });

    it("keeps checkEligible and the views working", async () => {
      const f = await loadFixture(hostRegistered);
      await f.registry.write.pause();
      assert.equal(
        (await f.registry.read.checkEligible([f.host.account.address, offerKey(MODEL, ETH)]))[0],
        PRICE,
      );
      assert.deepEqual(await f.registry.read.activeHosts([0n, 10n]), [[addr(f.host)], 1n]);
      // and the marketplace can still let the host claim
      const { jobId } = await postJob(f);
      await f.marketplace.write.claimJob([jobId], { account: f.host.account });
      assert.equal(await f.marketplace.read.activeJobCount([f.host.account.address]), 1n);
    });

    it("keeps the admin setters working", async () => {
      const f = await loadFixture(hostRegistered);
      await f.registry.write.pause();
      await f.registry.write.setMinimumStake([2n * MIN_STAKE]);
      await f.registry.write.setUnbondingPeriod([DAY]);
      assert.equal(await f.registry.read.minimumStake(), 2n * MIN_STAKE);
      assert.equal(await f.registry.read.unbondingPeriod(), DAY);
    });

    it("everything works again after unpause", async () => {
      const f = await loadFixture(hostRegistered);
      await f.registry.write.pause();
      await f.registry.write.unpause();
      await registerHost(f, f.host2);
      await f.registry.write.addStake([1n], { account: f.host.account });
      const [, stake] = await f.registry.read.hostState([f.host.account.address]);
      assert.equal(stake, MIN_STAKE + 1n);
    });
  });

  // ---------------------------------------------------------------- admin

  describe("setClaimsPerMinimumStake", () => {
    it("sets the claim capacity per minimum stake within 1..1000 (admin only)", async () => {
      const f = await loadFixture(hostRegistered);
      const before = await f.registry.read.claimsPerMinimumStake();
      await a.emitWithArgs(
        f.registry.write.setClaimsPerMinimumStake([3]),
        f.registry,
        "ClaimsPerMinimumStakeUpdated",
        [before, 3],
      );
      assert.equal(await f.registry.read.claimsPerMinimumStake(), 3);
      for (const bad of [0, 1_001])
        await a.revertWithCustomErrorWithArgs(
          f.registry.write.setClaimsPerMinimumStake([bad]),
          f.registry,
          "NodeRegistryInvalidAmount",
          [BigInt(bad)],
        );
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.setClaimsPerMinimumStake([5], { account: f.other.account }),
        f.registry,
        "AccessControlUnauthorizedAccount",
        [f.other.account.address, zeroHash],
      );
    });
  });

  describe("setMinimumStake", () => {
    it("sets the minimum and emits MinimumStakeUpdated(previous, current)", async () => {
      const f = await loadFixture(hostRegistered);
      const hash = await f.registry.write.setMinimumStake([2n * MIN_STAKE]);
      await a.emitWithArgs(hash, f.registry, "MinimumStakeUpdated", [MIN_STAKE, 2n * MIN_STAKE]);
      assert.equal(await f.registry.read.minimumStake(), 2n * MIN_STAKE);
      // new registrations must meet it
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.register([registration()], { account: f.host2.account }),
        f.registry,
        "NodeRegistryStakeBelowMinimum",
        [f.host2.account.address, MIN_STAKE, 2n * MIN_STAKE],
      );
    });

    it("rejects zero and values above uint128", async () => {
      const f = await loadFixture(hostRegistered);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.setMinimumStake([0n]),
        f.registry,
        "NodeRegistryInvalidAmount",
        [0n],
      );
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.setMinimumStake([2n ** 128n]),
        f.registry,
        "NodeRegistryInvalidAmount",
        [2n ** 128n],
      );
    });

    it("is admin-only", async () => {
      const f = await loadFixture(hostRegistered);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.setMinimumStake([1n], { account: f.other.account }),
        f.registry,
        "AccessControlUnauthorizedAccount",
        [f.other.account.address, zeroHash],
      );
    });
  });

  describe("setUnbondingPeriod", () => {
    it("sets the period (up to 90 days, 0 allowed) and emits UnbondingPeriodUpdated", async () => {
      const f = await loadFixture(hostRegistered);
      await a.emitWithArgs(
        f.registry.write.setUnbondingPeriod([MAX_UNBONDING]),
        f.registry,
        "UnbondingPeriodUpdated",
        [UNBONDING, MAX_UNBONDING],
      );
      assert.equal(await f.registry.read.unbondingPeriod(), MAX_UNBONDING);
      await a.emitWithArgs(
        f.registry.write.setUnbondingPeriod([0n]),
        f.registry,
        "UnbondingPeriodUpdated",
        [MAX_UNBONDING, 0n],
      );
      // with no unbonding period, unstaked FAB is withdrawable at once
      await f.registry.write.requestUnstake([1n], { account: f.host.account });
      await f.registry.write.withdrawUnstaked({ account: f.host.account });
      const [, , , unbonding] = await f.registry.read.hostState([f.host.account.address]);
      assert.equal(unbonding, 0n);
    });

    it("does not move the release time of stake already unbonding", async () => {
      const f = await loadFixture(hostRegistered);
      const hash = await f.registry.write.requestUnstake([1n], { account: f.host.account });
      const releaseAt = (await timestampOf(hash)) + UNBONDING;
      await f.registry.write.setUnbondingPeriod([0n]);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.withdrawUnstaked({ account: f.host.account }),
        f.registry,
        "NodeRegistryUnbondingNotOver",
        [f.host.account.address, releaseAt],
      );
    });

    it("rejects more than 90 days", async () => {
      const f = await loadFixture(hostRegistered);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.setUnbondingPeriod([MAX_UNBONDING + 1n]),
        f.registry,
        "NodeRegistryInvalidUnbondingPeriod",
        [MAX_UNBONDING + 1n],
      );
    });

    it("is admin-only", async () => {
      const f = await loadFixture(hostRegistered);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.setUnbondingPeriod([DAY], { account: f.other.account }),
        f.registry,
        "AccessControlUnauthorizedAccount",
        [f.other.account.address, zeroHash],
      );
    });
  });

  describe("setJobMarketplace", () => {
    it("sets the marketplace and emits JobMarketplaceUpdated(previous, current)", async () => {
      const f = await loadFixture(hostWithClaimedJob);
      const counter = f.other.account.address; // an EOA: any address is accepted
      const hash = await f.registry.write.setJobMarketplace([f.escrow.address]);
      await a.emitWithArgs(hash, f.registry, "JobMarketplaceUpdated", [
        f.marketplace.address,
        f.escrow.address,
      ]);
      assert.equal(await f.registry.read.jobMarketplace(), getAddress(f.escrow.address));
      await f.registry.write.setJobMarketplace([counter]);
      assert.equal(await f.registry.read.jobMarketplace(), getAddress(counter));
    });

    it("the registry asks the configured marketplace for unfinished jobs", async () => {
      const f = await loadFixture(hostWithClaimedJob);
      // a fresh JobMarketplace proxy knows nothing of the host's claimed job
      const impl = await implementationOf(f, f.marketplace.address);
      const { address } = await deployProxy(
        connection,
        impl,
        encodeFunctionData({
          abi: f.marketplace.abi,
          functionName: "initialize",
          args: [f.admin.account.address, Number(DAY)],
        }),
      );
      const fresh = await viem.getContractAt("JobMarketplace", address);
      assert.equal(await fresh.read.activeJobCount([f.host.account.address]), 0n);
      await f.registry.write.setJobMarketplace([fresh.address]);
      await f.registry.write.requestUnstake([1n], { account: f.host.account });
      const [, stake] = await f.registry.read.hostState([f.host.account.address]);
      assert.equal(stake, MIN_STAKE - 1n);
    });

    it("rejects the zero address", async () => {
      const f = await loadFixture(hostRegistered);
      await a.revertWithCustomError(
        f.registry.write.setJobMarketplace([zeroAddress]),
        f.registry,
        "NodeRegistryZeroAddress",
      );
    });

    it("is admin-only", async () => {
      const f = await loadFixture(hostRegistered);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.setJobMarketplace([f.other.account.address], { account: f.other.account }),
        f.registry,
        "AccessControlUnauthorizedAccount",
        [f.other.account.address, zeroHash],
      );
    });
  });

  // ---------------------------------------------------------------- views

  describe("activeHosts", () => {
    it("pages through all active hosts and reports the total", async () => {
      const f = await loadFixture(threeHosts);
      const [p1, total1] = await f.registry.read.activeHosts([0n, 2n]);
      const [p2, total2] = await f.registry.read.activeHosts([2n, 2n]);
      assert.equal(total1, 3n);
      assert.equal(total2, 3n);
      assert.equal(p1.length, 2);
      assert.equal(p2.length, 1);
      assert.deepEqual(
        sorted([...p1, ...p2]),
        sorted([addr(f.host), addr(f.host2), addr(f.third)]),
      );
    });

    it("returns an empty page (with the total) for an offset at or beyond the total, or a zero limit", async () => {
      const f = await loadFixture(threeHosts);
      assert.deepEqual(await f.registry.read.activeHosts([3n, 1n]), [[], 3n]);
      assert.deepEqual(await f.registry.read.activeHosts([100n, 5n]), [[], 3n]);
      assert.deepEqual(await f.registry.read.activeHosts([maxUint256, maxUint256]), [[], 3n]);
      assert.deepEqual(await f.registry.read.activeHosts([0n, 0n]), [[], 3n]);
    });

    it("clamps a limit past the end", async () => {
      const f = await loadFixture(threeHosts);
      const [page, total] = await f.registry.read.activeHosts([1n, 100n]);
      assert.equal(total, 3n);
      assert.equal(page.length, 2);
      const [all] = await f.registry.read.activeHosts([0n, maxUint256]);
      assert.equal(all.length, 3);
    });

    it("clamps a huge limit with a non-zero offset instead of overflowing", async () => {
      const f = await loadFixture(threeHosts);
      const call = f.registry.read.activeHosts([1n, maxUint256]);
      await assert.doesNotReject(call, "activeHosts(1, 2^256 - 1) must clamp, not overflow");
      const [page, total] = await call;
      assert.equal(total, 3n);
      assert.equal(page.length, 2);
    });

    it("is empty before anyone registers", async () => {
      const f = await loadFixture(registryFixture);
      assert.deepEqual(await f.registry.read.activeHosts([0n, 10n]), [[], 0n]);
    });
  });

  describe("hostsForModel", () => {
    it("pages through the active hosts offering a model", async () => {
      const f = await loadFixture(threeHosts);
      const [all, total] = await f.registry.read.hostsForModel([MODEL, 0n, 10n]);
      assert.equal(total, 2n);
      assert.deepEqual(sorted(all), sorted([addr(f.host), addr(f.host2)]));
      const [first] = await f.registry.read.hostsForModel([MODEL, 0n, 1n]);
      const [second] = await f.registry.read.hostsForModel([MODEL, 1n, 1n]);
      assert.deepEqual(sorted([...first, ...second]), sorted(all));
      assert.deepEqual(await f.registry.read.hostsForModel([MODEL, 2n, 1n]), [[], 2n]);
      const [other] = await f.registry.read.hostsForModel([OTHER_MODEL, 0n, 10n]);
      assert.deepEqual(sorted(other), sorted([addr(f.host2), addr(f.third)]));
    });

    it("is empty for a model nobody offers", async () => {
      const f = await loadFixture(threeHosts);
      assert.deepEqual(await f.registry.read.hostsForModel([modelN(99), 0n, 10n]), [[], 0n]);
    });
  });

  describe("capability and profile views", () => {
    it("modelsOf, tokensOf and priceOf describe each host's offers", async () => {
      const f = await loadFixture(threeHosts);
      const h2 = f.host2.account.address;
      assert.deepEqual(sorted(await f.registry.read.modelsOf([h2])), sorted([MODEL, OTHER_MODEL]));
      assert.deepEqual(await f.registry.read.tokensOf([h2, MODEL]), [ETH]);
      assert.deepEqual(await f.registry.read.tokensOf([h2, OTHER_MODEL]), [
        getAddress(f.usd.address),
      ]);
      assert.equal(await f.registry.read.priceOf([h2, MODEL, ETH]), PRICE);
      assert.equal(await f.registry.read.priceOf([h2, OTHER_MODEL, f.usd.address]), 5n);
      assert.equal(await f.registry.read.priceOf([h2, OTHER_MODEL, ETH]), 0n);
      assert.deepEqual(await f.registry.read.modelsOf([f.third.account.address]), [OTHER_MODEL]);
    });

    it("are empty/zero for an unknown address", async () => {
      const f = await loadFixture(threeHosts);
      const x = f.other.account.address;
      assert.deepEqual(await f.registry.read.modelsOf([x]), []);
      assert.deepEqual(await f.registry.read.tokensOf([x, MODEL]), []);
      assert.equal(await f.registry.read.priceOf([x, MODEL, ETH]), 0n);
      assert.deepEqual(await f.registry.read.hostState([x]), [Unregistered, 0n, 0n, 0n, 0n]);
      assert.deepEqual(await f.registry.read.profileOf([x]), {
        hardware: { gpuModel: zeroHash, vramMiB: 0, gpuCount: 0 },
        region: zeroHash,
        metadataDigest: zeroHash,
        endpoints: { peerId: "0x", multiaddrs: [], httpUrl: "" },
      });
    });

    it("offerKey is keccak256(abi.encode(modelId, token))", async () => {
      const { registry, usd } = await loadFixture(deploySystem);
      assert.equal(await registry.read.offerKey([MODEL, ETH]), offerKey(MODEL, ETH));
      assert.equal(
        await registry.read.offerKey([MODEL, usd.address]),
        offerKey(MODEL, usd.address),
      );
      assert.notEqual(offerKey(MODEL, ETH), offerKey(OTHER_MODEL, ETH));
    });
  });

  describe("checkEligible", () => {
    it("returns the host's price for an offered (model, token)", async () => {
      const f = await loadFixture(threeHosts);
      assert.equal(
        (await f.registry.read.checkEligible([f.host.account.address, offerKey(MODEL, ETH)]))[0],
        PRICE,
      );
      assert.equal(
        (
          await f.registry.read.checkEligible([
            f.host2.account.address,
            offerKey(OTHER_MODEL, f.usd.address),
          ])
        )[0],
        5n,
      );
      assert.equal(
        (
          await f.registry.read.checkEligible([f.third.account.address, offerKey(OTHER_MODEL, ETH)])
        )[0],
        7n,
      );
    });

    it("reverts NodeRegistryHostNotActive for an unregistered or paused host", async () => {
      const f = await loadFixture(threeHosts);
      await a.revertWithCustomErrorWithArgs(
        f.registry.read.checkEligible([f.other.account.address, offerKey(MODEL, ETH)]),
        f.registry,
        "NodeRegistryHostNotActive",
        [f.other.account.address, Unregistered],
      );
      await f.registry.write.setAvailable([false], { account: f.host.account });
      await a.revertWithCustomErrorWithArgs(
        f.registry.read.checkEligible([f.host.account.address, offerKey(MODEL, ETH)]),
        f.registry,
        "NodeRegistryHostNotActive",
        [f.host.account.address, Paused],
      );
    });

    it("reverts NodeRegistryStakeBelowMinimum after the admin raises the minimum", async () => {
      const f = await loadFixture(threeHosts);
      await f.registry.write.setMinimumStake([MIN_STAKE + 1n]);
      await a.revertWithCustomErrorWithArgs(
        f.registry.read.checkEligible([f.host.account.address, offerKey(MODEL, ETH)]),
        f.registry,
        "NodeRegistryStakeBelowMinimum",
        [f.host.account.address, MIN_STAKE, MIN_STAKE + 1n],
      );
      // and the marketplace refuses the claim for the same reason
      const { jobId } = await postJob(f);
      await a.revertWithCustomErrorWithArgs(
        f.marketplace.write.claimJob([jobId], { account: f.host.account }),
        f.registry,
        "NodeRegistryStakeBelowMinimum",
        [f.host.account.address, MIN_STAKE, MIN_STAKE + 1n],
      );
    });

    it("reverts NodeRegistryModelNotOffered for a model, or a token, the host does not offer", async () => {
      const f = await loadFixture(threeHosts);
      for (const key of [offerKey(OTHER_MODEL, ETH), offerKey(MODEL, f.usd.address)]) {
        await a.revertWithCustomErrorWithArgs(
          f.registry.read.checkEligible([f.host.account.address, key]),
          f.registry,
          "NodeRegistryModelNotOffered",
          [f.host.account.address, key],
        );
      }
    });
  });
});
