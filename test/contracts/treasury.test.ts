import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { network } from "hardhat";
import {
  type Address,
  encodeFunctionData,
  getAddress,
  type Hash,
  keccak256,
  parseEther,
  parseEventLogs,
  stringToHex,
  zeroAddress,
  zeroHash,
} from "viem";
import { deployProxied, implementationOf } from "../../fixtures/system.ts";
import {
  amountOut,
  deployUniswapV2,
  pairOf,
  reservesFor,
  seedEthPool,
  seedPool,
  type UniswapV2,
  uniswapV2At,
} from "../../fixtures/uniswap.ts";
import UniswapV2Local from "../../ignition/modules/UniswapV2Local.ts";

const FAB = 10n ** 18n;
const USD = 10n ** 6n;
const ETH = zeroAddress;
const SUPPLY = 1_000_000_000n * FAB;
const BUYBACK_BPS = 2_000; // 20% of arrivals to the buyback reserve
const POOL_FAB = 1_000_000n * FAB; // FAB/WETH pool: 10 000 FAB per ETH
const POOL_ETH = parseEther("100");
const POOL_USD = 300_000n * USD; // USD/WETH pool: 3 000 USD per ETH
const PAUSER_ROLE = keccak256(stringToHex("PAUSER_ROLE"));
const UPGRADER_ROLE = keccak256(stringToHex("UPGRADER_ROLE"));
const KEEPER_ROLE = keccak256(stringToHex("KEEPER_ROLE"));
/** IFabstirTreasury.BuybackDestination */
const Destination = { Burn: 0, StakersPool: 1 } as const;

const connection = await network.create();
const { viem, networkHelpers } = connection;
const { loadFixture, time } = networkHelpers;
const publicClient = await viem.getPublicClient();
const a = viem.assertions;

let nextLockId = 1n;

async function treasuryFixture() {
  const [admin, guardian, keeper, locker, host, pool, other] = await viem.getWalletClients();
  if (!admin || !guardian || !keeper || !locker || !host || !pool || !other) {
    throw new Error("need 7 accounts");
  }
  const uni = await deployUniswapV2(connection);

  const fab = await deployProxied(connection, "FABToken", [
    admin.account.address,
    admin.account.address,
    SUPPLY,
  ]);
  const usd = await viem.deployContract("TestStablecoin");

  // The escrow needs a treasury at initialization and the treasury needs the escrow: the escrow
  // starts with the admin as its treasury and is pointed at the FabstirTreasury below.
  const escrow = await deployProxied(connection, "PaymentEscrow", [
    admin.account.address,
    admin.account.address,
    other.account.address,
  ]);

  const treasury = await deployProxied(connection, "FabstirTreasury", [
    admin.account.address,
    escrow.address,
    fab.address,
    uni.router.address,
    pool.account.address,
    BUYBACK_BPS,
  ]);
  await treasury.write.grantRole([KEEPER_ROLE, keeper.account.address]);
  await treasury.write.grantRole([PAUSER_ROLE, guardian.account.address]);

  await escrow.write.setTreasury([treasury.address]);
  await escrow.write.setLocker([locker.account.address, true]);
  await escrow.write.setTokenAllowed([usd.address, true]);

  const fabWeth = await seedEthPool(
    connection,
    uni,
    fab.address,
    POOL_FAB,
    POOL_ETH,
    admin.account.address,
  );
  await usd.write.mint([admin.account.address, POOL_USD]);
  const usdWeth = await seedEthPool(
    connection,
    uni,
    usd.address,
    POOL_USD,
    POOL_ETH,
    admin.account.address,
  );
  const treasuryImpl = await viem.getContractAt(
    "FabstirTreasury",
    await implementationOf({ publicClient: await viem.getPublicClient() }, treasury.address),
  );
  return {
    uni,
    fab,
    usd,
    escrow,
    treasury,
    treasuryImpl,
    fabWeth,
    usdWeth,
    admin,
    guardian,
    keeper,
    locker,
    host,
    pool,
    other,
  };
}

type Fixture = Awaited<ReturnType<typeof treasuryFixture>>;

/** A settled payment of `payment` through the escrow; returns the treasury's 10% fee. */
async function payFees(f: Fixture, token: Address, payment: bigint): Promise<bigint> {
  const id = nextLockId++;
  const from = f.locker.account;
  if (token === ETH) {
    await f.escrow.write.lock([id, from.address, ETH, payment], { account: from, value: payment });
  } else {
    await f.usd.write.mint([from.address, payment]);
    await f.usd.write.approve([f.escrow.address, payment], { account: from });
    await f.escrow.write.lock([id, from.address, token, payment], { account: from });
  }
  await f.escrow.write.pay([id, f.host.account.address, payment, 0], { account: from });
  return (payment * 1_000n) / 10_000n;
}

/** Pays fees of `token`, syncs, and returns the reserve that resulted. */
async function fundReserve(f: Fixture, token: Address, payment: bigint): Promise<bigint> {
  await payFees(f, token, payment);
  await f.treasury.write.sync([token]);
  return f.treasury.read.buybackReserve([token]);
}

async function deadline(): Promise<bigint> {
  return BigInt(await time.latest()) + 600n;
}

/** What `amountIn` of `path[0]` buys along `path` from the pools' current reserves (Uniswap V2 math). */
async function expectedOut(uni: UniswapV2, amountIn: bigint, path: Address[]): Promise<bigint> {
  let amount = amountIn;
  for (let i = 0; i + 1 < path.length; i++) {
    const tokenIn = path[i] as Address;
    const pair = await pairOf(uni, tokenIn, path[i + 1] as Address);
    const { reserveIn, reserveOut } = await reservesFor(pair, tokenIn);
    amount = amountOut(amount, reserveIn, reserveOut);
  }
  return amount;
}

async function gasOf(hash: Hash): Promise<bigint> {
  return (await publicClient.waitForTransactionReceipt({ hash })).gasUsed;
}

describe("FabstirTreasury", () => {
  describe("initialize", () => {
    it("records the escrow, FAB, router, pool, share, default slippage, destination and ETH path", async () => {
      const f = await loadFixture(treasuryFixture);
      const t = f.treasury;
      assert.equal(await t.read.escrow(), getAddress(f.escrow.address));
      assert.equal(await t.read.fab(), getAddress(f.fab.address));
      assert.equal(await t.read.router(), getAddress(f.uni.router.address));
      assert.equal(await t.read.stakersPool(), getAddress(f.pool.account.address));
      assert.equal(await t.read.buybackShare(), BUYBACK_BPS);
      assert.equal(await t.read.maxSlippageBps(), 100);
      assert.equal(await t.read.buybackDestination(), Destination.Burn);
      assert.deepEqual(await t.read.swapPath([ETH]), [
        getAddress(f.uni.weth.address),
        getAddress(f.fab.address),
      ]);
      for (const role of [zeroHash, PAUSER_ROLE, UPGRADER_ROLE]) {
        assert.equal(await t.read.hasRole([role, f.admin.account.address]), true);
      }
      assert.equal(await t.read.hasRole([KEEPER_ROLE, f.admin.account.address]), false);
    });

    it("rejects zero addresses and a share above 50%, and cannot run twice", async () => {
      const f = await loadFixture(treasuryFixture);
      const init = (args: readonly [Address, Address, Address, Address, Address, number]) =>
        viem.deployContract("FabstirProxy", [
          f.treasuryImpl.address,
          encodeFunctionData({ abi: f.treasuryImpl.abi, functionName: "initialize", args }),
        ]);
      const ok = [
        f.admin.account.address,
        f.escrow.address,
        f.fab.address,
        f.uni.router.address,
        zeroAddress, // no stakers pool yet is allowed
        BUYBACK_BPS,
      ] as const;
      await init(ok);
      for (const i of [0, 1, 2, 3]) {
        const args = [...ok] as [Address, Address, Address, Address, Address, number];
        args[i] = zeroAddress;
        await a.revertWithCustomError(init(args), f.treasury, "FabstirTreasuryZeroAddress");
      }
      await a.revertWithCustomErrorWithArgs(
        init([ok[0], ok[1], ok[2], ok[3], ok[4], 5_001]),
        f.treasury,
        "FabstirTreasuryInvalidBuybackShare",
        [5_001],
      );
      await a.revertWithCustomError(
        f.treasury.write.initialize([...ok]),
        f.treasury,
        "InvalidInitialization",
      );
    });
  });

  describe("sync and release", () => {
    it("collects the escrow's treasury fees and splits them into reserve and free funds", async () => {
      const f = await loadFixture(treasuryFixture);
      const fee = await payFees(f, ETH, parseEther("10"));
      assert.equal(fee, parseEther("1"));
      const toReserve = (fee * BigInt(BUYBACK_BPS)) / 10_000n;
      const hash = await f.treasury.write.sync([ETH], { account: f.other.account });
      await a.emitWithArgs(hash, f.treasury, "Synced", [
        ETH,
        fee,
        toReserve,
        fee - toReserve,
        toReserve,
        fee - toReserve,
      ]);
      await a.emitWithArgs(hash, f.escrow, "FeesCollected", [ETH, 0, f.treasury.address, fee]);
      assert.equal(await f.treasury.read.buybackReserve([ETH]), parseEther("0.2"));
      assert.equal(await f.treasury.read.freeBalance([ETH]), parseEther("0.8"));
      assert.equal(await publicClient.getBalance({ address: f.treasury.address }), fee);
      const [treasuryFees] = await f.escrow.read.feesOf([ETH]);
      assert.equal(treasuryFees, 0n);
      // Nothing new: a second sync changes nothing.
      await a.emitWithArgs(f.treasury.write.sync([ETH]), f.treasury, "Synced", [
        ETH,
        0n,
        0n,
        0n,
        toReserve,
        fee - toReserve,
      ]);
    });

    it("splits ERC-20 fees and plain transfers by the share in force at the sync", async () => {
      const f = await loadFixture(treasuryFixture);
      const fee = await payFees(f, f.usd.address, 50_000n * USD); // 5 000 USD to the treasury
      await f.usd.write.mint([f.treasury.address, 1_000n * USD]); // a plain transfer
      await f.treasury.write.setBuybackShare([5_000]);
      await f.treasury.write.sync([f.usd.address]);
      const arrived = fee + 1_000n * USD;
      assert.equal(await f.treasury.read.buybackReserve([f.usd.address]), arrived / 2n);
      assert.equal(await f.treasury.read.freeBalance([f.usd.address]), arrived / 2n);
    });

    it("a failing collection (escrow paused) is reported and what arrived is still accounted", async () => {
      const f = await loadFixture(treasuryFixture);
      await payFees(f, ETH, parseEther("10"));
      await f.escrow.write.pause();
      await f.admin.sendTransaction({ to: f.treasury.address, value: parseEther("1") });
      const hash = await f.treasury.write.sync([ETH]);
      await a.emitWithArgs(hash, f.treasury, "FeeCollectionFailed", [
        ETH,
        (reason: `0x${string}`) => reason.startsWith("0xd93c0665"), // EnforcedPause()
      ]);
      assert.equal(await f.treasury.read.buybackReserve([ETH]), parseEther("0.2"));
      assert.equal(await f.treasury.read.freeBalance([ETH]), parseEther("0.8"));
    });

    it("release pays free funds to the recipient and never the reserve", async () => {
      const f = await loadFixture(treasuryFixture);
      const reserve = await fundReserve(f, ETH, parseEther("10"));
      const free = await f.treasury.read.freeBalance([ETH]);
      const to = f.other.account.address;
      await a.revertWithCustomErrorWithArgs(
        f.treasury.write.release([ETH, to, free + 1n]),
        f.treasury,
        "FabstirTreasuryInsufficientFreeBalance",
        [ETH, free, free + 1n],
      );
      const hash = f.treasury.write.release([ETH, to, free]);
      await a.balancesHaveChanged(hash, [
        { address: to, amount: free },
        { address: f.treasury.address, amount: -free },
      ]);
      await a.emitWithArgs(hash, f.treasury, "Released", [ETH, to, free]);
      assert.equal(await f.treasury.read.freeBalance([ETH]), 0n);
      assert.equal(await f.treasury.read.buybackReserve([ETH]), reserve);
      assert.equal(await publicClient.getBalance({ address: f.treasury.address }), reserve);
      await a.revertWithCustomErrorWithArgs(
        f.treasury.write.release([ETH, to, 1n]),
        f.treasury,
        "FabstirTreasuryInsufficientFreeBalance",
        [ETH, 0n, 1n],
      );
      // ERC-20 free funds are released by transfer.
      await fundReserve(f, f.usd.address, 10_000n * USD);
      await f.treasury.write.release([f.usd.address, to, 800n * USD]);
      assert.equal(await f.usd.read.balanceOf([to]), 800n * USD);
      assert.equal(await f.treasury.read.buybackReserve([f.usd.address]), 200n * USD);
    });

    it("release is governance's alone, and rejects a zero recipient or amount", async () => {
      const f = await loadFixture(treasuryFixture);
      await fundReserve(f, ETH, parseEther("10"));
      for (const who of [f.guardian, f.keeper, f.other]) {
        await a.revertWithCustomErrorWithArgs(
          f.treasury.write.release([ETH, who.account.address, 1n], { account: who.account }),
          f.treasury,
          "AccessControlUnauthorizedAccount",
          [who.account.address, zeroHash],
        );
      }
      await a.revertWithCustomError(
        f.treasury.write.release([ETH, zeroAddress, 1n]),
        f.treasury,
        "FabstirTreasuryZeroAddress",
      );
      await a.revertWithCustomErrorWithArgs(
        f.treasury.write.release([ETH, f.other.account.address, 0n]),
        f.treasury,
        "FabstirTreasuryInvalidAmount",
        [0n],
      );
    });
  });

  describe("buyback through the real Uniswap V2 pool", () => {
    it("ETH: buys exactly the constant-product amount and burns it", async () => {
      const f = await loadFixture(treasuryFixture);
      const reserve = await fundReserve(f, ETH, parseEther("100")); // 10 ETH fee, 2 ETH reserve
      assert.equal(reserve, parseEther("2"));
      const amountIn = parseEther("1");
      const { reserveIn, reserveOut } = await reservesFor(f.fabWeth, f.uni.weth.address);
      assert.equal(reserveIn, POOL_ETH);
      assert.equal(reserveOut, POOL_FAB);
      const expected = (amountIn * 997n * reserveOut) / (reserveIn * 1_000n + amountIn * 997n);
      const supply = await f.fab.read.totalSupply();

      const hash = await f.treasury.write.buyback(
        [ETH, amountIn, (expected * 99n) / 100n, await deadline()],
        { account: f.keeper.account },
      );
      await a.emitWithArgs(hash, f.treasury, "BuybackExecuted", [
        ETH,
        amountIn,
        expected,
        Destination.Burn,
      ]);
      await a.emitWithArgs(hash, f.fab, "Transfer", [f.treasury.address, zeroAddress, expected]);
      assert.equal(await f.fab.read.totalSupply(), supply - expected);
      assert.equal(await f.fab.read.balanceOf([f.treasury.address]), 0n);
      assert.equal(await f.treasury.read.buybackReserve([ETH]), reserve - amountIn);
      assert.equal(await f.treasury.read.freeBalance([ETH]), parseEther("8"));
      assert.equal(await publicClient.getBalance({ address: f.treasury.address }), parseEther("9"));
      const after = await reservesFor(f.fabWeth, f.uni.weth.address);
      assert.equal(after.reserveIn, POOL_ETH + amountIn);
      assert.equal(after.reserveOut, POOL_FAB - expected);
      console.log(`      gas: buyback ETH -> FAB (burn) ${await gasOf(hash)}`);
    });

    it("ETH: sends the FAB to a stakers pool that is an EOA without reverting", async () => {
      const f = await loadFixture(treasuryFixture);
      await fundReserve(f, ETH, parseEther("100"));
      await a.emitWithArgs(
        f.treasury.write.setBuybackDestination([Destination.StakersPool]),
        f.treasury,
        "BuybackDestinationUpdated",
        [Destination.Burn, Destination.StakersPool],
      );
      const amountIn = parseEther("2");
      const expected = amountOut(amountIn, POOL_ETH, POOL_FAB);
      const supply = await f.fab.read.totalSupply();
      const hash = await f.treasury.write.buyback([ETH, amountIn, expected, await deadline()], {
        account: f.keeper.account,
      });
      await a.emitWithArgs(hash, f.treasury, "BuybackExecuted", [
        ETH,
        amountIn,
        expected,
        Destination.StakersPool,
      ]);
      assert.equal(await f.fab.read.balanceOf([f.pool.account.address]), expected);
      assert.equal(await f.fab.read.totalSupply(), supply);
      assert.equal(await f.treasury.read.buybackReserve([ETH]), 0n);
      console.log(`      gas: buyback ETH -> FAB (stakers pool EOA) ${await gasOf(hash)}`);
    });

    it("a stakers pool contract whose sync reverts still gets the FAB (StakersPoolSyncFailed)", async () => {
      const f = await loadFixture(treasuryFixture);
      await fundReserve(f, ETH, parseEther("100"));
      // Stand-in pool: a contract without sync(address), so the call reverts.
      const poolContract = await viem.deployContract("TestStablecoin");
      await f.treasury.write.setStakersPool([poolContract.address]);
      await f.treasury.write.setBuybackDestination([Destination.StakersPool]);
      const amountIn = parseEther("1");
      const expected = amountOut(amountIn, POOL_ETH, POOL_FAB);
      const hash = await f.treasury.write.buyback([ETH, amountIn, expected, await deadline()], {
        account: f.keeper.account,
      });
      await a.emitWithArgs(hash, f.treasury, "StakersPoolSyncFailed", [poolContract.address, "0x"]);
      assert.equal(await f.fab.read.balanceOf([poolContract.address]), expected);
    });

    it("with the real StakersPool: the FAB arrives and the pool's sync(fab) succeeds", async () => {
      const f = await loadFixture(treasuryFixture);
      await fundReserve(f, ETH, parseEther("100"));
      const impl = await viem.deployContract("StakersPool");
      const proxy = await viem.deployContract("FabstirProxy", [
        impl.address,
        encodeFunctionData({
          abi: impl.abi,
          functionName: "initialize",
          args: [f.admin.account.address, f.fab.address, zeroAddress],
        }),
      ]);
      const stakersPool = await viem.getContractAt("StakersPool", proxy.address);
      await stakersPool.write.addRewardToken([f.fab.address]);
      await f.treasury.write.setStakersPool([stakersPool.address]);
      await f.treasury.write.setBuybackDestination([Destination.StakersPool]);

      const amountIn = parseEther("1");
      const expected = amountOut(amountIn, POOL_ETH, POOL_FAB);
      const hash = await f.treasury.write.buyback([ETH, amountIn, expected, await deadline()], {
        account: f.keeper.account,
      });
      const receipt = await publicClient.waitForTransactionReceipt({ hash });
      const events = parseEventLogs({ abi: f.treasury.abi, logs: receipt.logs });
      assert.deepEqual(
        events.map((e) => e.eventName),
        ["BuybackExecuted"],
        "no StakersPoolSyncFailed: the pool's sync(fab) ran",
      );
      // With no stakers yet the pool keeps what arrived unbooked, for a later sync.
      assert.equal(await f.fab.read.balanceOf([stakersPool.address]), expected);
      console.log(`      gas: buyback ETH -> FAB (StakersPool + sync) ${receipt.gasUsed}`);
    });

    it("ERC-20: swaps along the governed path [USD, WETH, FAB] and approves exactly", async () => {
      const f = await loadFixture(treasuryFixture);
      const reserve = await fundReserve(f, f.usd.address, 100_000n * USD); // 2 000 USD reserve
      assert.equal(reserve, 2_000n * USD);
      const path = [f.usd.address, f.uni.weth.address, f.fab.address].map((x) => getAddress(x));
      // No route yet for the stablecoin.
      await a.revertWithCustomErrorWithArgs(
        f.treasury.write.buyback([f.usd.address, reserve, 0n, await deadline()], {
          account: f.keeper.account,
        }),
        f.treasury,
        "FabstirTreasuryNoSwapPath",
        [f.usd.address],
      );
      await a.emitWithArgs(
        f.treasury.write.setSwapPath([f.usd.address, path]),
        f.treasury,
        "SwapPathUpdated",
        [
          f.usd.address,
          (p: readonly Address[]) => p.map((x) => getAddress(x)).join() === path.join(),
        ],
      );
      assert.deepEqual(await f.treasury.read.swapPath([f.usd.address]), path);

      const amountIn = 1_000n * USD;
      const expected = await expectedOut(f.uni, amountIn, path);
      // The two hops by hand: 1 000 USD -> ETH -> FAB.
      const eth = amountOut(amountIn, POOL_USD, POOL_ETH);
      assert.equal(expected, amountOut(eth, POOL_ETH, POOL_FAB));
      const supply = await f.fab.read.totalSupply();
      const hash = await f.treasury.write.buyback(
        [f.usd.address, amountIn, expected, await deadline()],
        { account: f.keeper.account },
      );
      await a.emitWithArgs(hash, f.treasury, "BuybackExecuted", [
        f.usd.address,
        amountIn,
        expected,
        Destination.Burn,
      ]);
      assert.equal(await f.fab.read.totalSupply(), supply - expected);
      assert.equal(await f.treasury.read.buybackReserve([f.usd.address]), reserve - amountIn);
      assert.equal(
        await f.usd.read.balanceOf([f.treasury.address]),
        10_000n * USD - amountIn, // the whole fee less what was swapped
      );
      assert.equal(await f.usd.read.allowance([f.treasury.address, f.uni.router.address]), 0n);
      console.log(`      gas: buyback USD -> WETH -> FAB (burn) ${await gasOf(hash)}`);
    });

    it("ERC-20: a direct [USD, FAB] pool once governance routes there", async () => {
      const f = await loadFixture(treasuryFixture);
      const reserve = await fundReserve(f, f.usd.address, 100_000n * USD);
      await f.usd.write.mint([f.admin.account.address, 100_000n * USD]);
      const usdFab = await seedPool(
        connection,
        f.uni,
        f.usd.address,
        100_000n * USD,
        f.fab.address,
        1_000_000n * FAB,
        f.admin.account.address,
      );
      await f.treasury.write.setSwapPath([f.usd.address, [f.usd.address, f.fab.address]]);
      const { reserveIn, reserveOut } = await reservesFor(usdFab, f.usd.address);
      const expected = amountOut(reserve, reserveIn, reserveOut);
      await f.treasury.write.buyback([f.usd.address, reserve, expected, await deadline()], {
        account: f.keeper.account,
      });
      const after = await reservesFor(usdFab, f.usd.address);
      assert.equal(after.reserveIn, reserveIn + reserve);
      assert.equal(after.reserveOut, reserveOut - expected);
      assert.equal(await f.treasury.read.buybackReserve([f.usd.address]), 0n);
    });

    it("a reserve of FAB itself is burned as it is, without a swap", async () => {
      const f = await loadFixture(treasuryFixture);
      await f.fab.write.transfer([f.treasury.address, 1_000n * FAB]);
      await f.treasury.write.sync([f.fab.address]);
      const reserve = await f.treasury.read.buybackReserve([f.fab.address]);
      assert.equal(reserve, 200n * FAB);
      const supply = await f.fab.read.totalSupply();
      await f.treasury.write.buyback([f.fab.address, reserve, reserve, await deadline()], {
        account: f.keeper.account,
      });
      assert.equal(await f.fab.read.totalSupply(), supply - reserve);
      assert.equal(await f.fab.read.balanceOf([f.treasury.address]), 800n * FAB);
      assert.equal(await f.treasury.read.freeBalance([f.fab.address]), 800n * FAB);
    });

    it("refuses more than the reserve, zero, and an expired deadline", async () => {
      const f = await loadFixture(treasuryFixture);
      const reserve = await fundReserve(f, ETH, parseEther("100"));
      const k = { account: f.keeper.account };
      await a.revertWithCustomErrorWithArgs(
        f.treasury.write.buyback([ETH, reserve + 1n, 0n, await deadline()], k),
        f.treasury,
        "FabstirTreasuryInsufficientReserve",
        [ETH, reserve, reserve + 1n],
      );
      await a.revertWithCustomErrorWithArgs(
        f.treasury.write.buyback([ETH, 0n, 0n, await deadline()], k),
        f.treasury,
        "FabstirTreasuryInvalidAmount",
        [0n],
      );
      const min = amountOut(reserve, POOL_ETH, POOL_FAB);
      await a.revertWith(
        f.treasury.write.buyback([ETH, reserve, min, BigInt(await time.latest())], k),
        "UniswapV2Router: EXPIRED",
      );
      assert.equal(await f.treasury.read.buybackReserve([ETH]), reserve);
    });
  });

  describe("slippage", () => {
    it("a minFabOut above what the pool gives reverts in the router (INSUFFICIENT_OUTPUT_AMOUNT)", async () => {
      const f = await loadFixture(treasuryFixture);
      await fundReserve(f, ETH, parseEther("100"));
      const amountIn = parseEther("1");
      const expected = amountOut(amountIn, POOL_ETH, POOL_FAB);
      await a.revertWith(
        f.treasury.write.buyback([ETH, amountIn, expected + 1n, await deadline()], {
          account: f.keeper.account,
        }),
        "UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT",
      );
      assert.equal(await f.treasury.read.buybackReserve([ETH]), parseEther("2"));
    });

    it("a minFabOut below the quote less maxSlippage reverts FabstirTreasurySlippageTooLoose", async () => {
      const f = await loadFixture(treasuryFixture);
      await fundReserve(f, ETH, parseEther("100"));
      const amountIn = parseEther("1");
      const quote = amountOut(amountIn, POOL_ETH, POOL_FAB);
      const floor = (quote * 9_900n) / 10_000n;
      const k = { account: f.keeper.account };
      await a.revertWithCustomErrorWithArgs(
        f.treasury.write.buyback([ETH, amountIn, floor - 1n, await deadline()], k),
        f.treasury,
        "FabstirTreasurySlippageTooLoose",
        [floor - 1n, floor, quote],
      );
      await a.revertWithCustomErrorWithArgs(
        f.treasury.write.buyback([ETH, amountIn, 0n, await deadline()], k),
        f.treasury,
        "FabstirTreasurySlippageTooLoose",
        [0n, floor, quote],
      );
      // Exactly at the floor passes the treasury's check (the pool then gives the full quote).
      await f.treasury.write.buyback([ETH, amountIn, floor, await deadline()], k);
      assert.equal(await f.fab.read.totalSupply(), SUPPLY - quote);
      // A looser bound (10%) lets a lower minimum through.
      await a.emitWithArgs(
        f.treasury.write.setMaxSlippage([1_000]),
        f.treasury,
        "MaxSlippageUpdated",
        [100, 1_000],
      );
      const { reserveIn, reserveOut } = await reservesFor(f.fabWeth, f.uni.weth.address);
      const wide = (amountOut(amountIn, reserveIn, reserveOut) * 9_000n) / 10_000n;
      await f.treasury.write.buyback([ETH, amountIn, wide, await deadline()], k);
      assert.equal(await f.treasury.read.buybackReserve([ETH]), 0n);
    });
  });

  describe("roles and pause", () => {
    it("only KEEPER_ROLE or the admin can buy back", async () => {
      const f = await loadFixture(treasuryFixture);
      await fundReserve(f, ETH, parseEther("100"));
      const amountIn = parseEther("0.5");
      const min = amountOut(amountIn, POOL_ETH, POOL_FAB);
      for (const who of [f.other, f.guardian]) {
        await a.revertWithCustomErrorWithArgs(
          f.treasury.write.buyback([ETH, amountIn, min, await deadline()], {
            account: who.account,
          }),
          f.treasury,
          "AccessControlUnauthorizedAccount",
          [who.account.address, KEEPER_ROLE],
        );
      }
      await f.treasury.write.buyback([ETH, amountIn, min, await deadline()]); // the admin
      await f.treasury.write.revokeRole([KEEPER_ROLE, f.keeper.account.address]);
      await a.revertWithCustomError(
        f.treasury.write.buyback([ETH, amountIn, 0n, await deadline()], {
          account: f.keeper.account,
        }),
        f.treasury,
        "AccessControlUnauthorizedAccount",
      );
    });

    it("the guardian pauses buybacks and releases but cannot unpause; sync goes on", async () => {
      const f = await loadFixture(treasuryFixture);
      await fundReserve(f, ETH, parseEther("100"));
      await a.emitWithArgs(
        f.treasury.write.pause({ account: f.guardian.account }),
        f.treasury,
        "Paused",
        [f.guardian.account.address],
      );
      await a.revertWithCustomError(
        f.treasury.write.buyback([ETH, 1n, 0n, await deadline()], { account: f.keeper.account }),
        f.treasury,
        "EnforcedPause",
      );
      await a.revertWithCustomError(
        f.treasury.write.release([ETH, f.other.account.address, 1n]),
        f.treasury,
        "EnforcedPause",
      );
      await payFees(f, ETH, parseEther("10"));
      await f.treasury.write.sync([ETH]);
      assert.equal(await f.treasury.read.buybackReserve([ETH]), parseEther("2.2"));
      await a.revertWithCustomErrorWithArgs(
        f.treasury.write.unpause({ account: f.guardian.account }),
        f.treasury,
        "AccessControlUnauthorizedAccount",
        [f.guardian.account.address, zeroHash],
      );
      await a.revertWithCustomErrorWithArgs(
        f.treasury.write.pause({ account: f.keeper.account }),
        f.treasury,
        "AccessControlUnauthorizedAccount",
        [f.keeper.account.address, PAUSER_ROLE],
      );
      await f.treasury.write.unpause();
      assert.equal(await f.treasury.read.paused(), false);
    });

    it("setters and upgrades are governance's alone", async () => {
      const f = await loadFixture(treasuryFixture);
      const g = { account: f.guardian.account };
      const calls = [
        () => f.treasury.write.setBuybackShare([1], g),
        () => f.treasury.write.setMaxSlippage([1], g),
        () => f.treasury.write.setBuybackDestination([1], g),
        () => f.treasury.write.setSwapPath([ETH, [f.uni.weth.address, f.fab.address]], g),
        () => f.treasury.write.setRouter([f.uni.router.address], g),
        () => f.treasury.write.setStakersPool([f.other.account.address], g),
      ];
      for (const call of calls) {
        await a.revertWithCustomErrorWithArgs(
          call(),
          f.treasury,
          "AccessControlUnauthorizedAccount",
          [f.guardian.account.address, zeroHash],
        );
      }
      const impl = await viem.deployContract("FabstirTreasury");
      await a.revertWithCustomErrorWithArgs(
        f.treasury.write.upgradeToAndCall([impl.address, "0x"], { account: f.keeper.account }),
        f.treasury,
        "AccessControlUnauthorizedAccount",
        [f.keeper.account.address, UPGRADER_ROLE],
      );
      await f.treasury.write.upgradeToAndCall([impl.address, "0x"]);
    });
  });

  describe("governance setters", () => {
    it("setBuybackShare and setMaxSlippage enforce their bounds and emit", async () => {
      const f = await loadFixture(treasuryFixture);
      const t = f.treasury;
      await a.revertWithCustomErrorWithArgs(
        t.write.setBuybackShare([5_001]),
        t,
        "FabstirTreasuryInvalidBuybackShare",
        [5_001],
      );
      await a.emitWithArgs(t.write.setBuybackShare([5_000]), t, "BuybackShareUpdated", [
        BUYBACK_BPS,
        5_000,
      ]);
      await t.write.setBuybackShare([0]);
      assert.equal(await t.read.buybackShare(), 0);
      for (const bps of [0, 1_001]) {
        await a.revertWithCustomErrorWithArgs(
          t.write.setMaxSlippage([bps]),
          t,
          "FabstirTreasuryInvalidSlippage",
          [bps],
        );
      }
      await t.write.setMaxSlippage([1]);
      assert.equal(await t.read.maxSlippageBps(), 1);
    });

    it("setBuybackDestination and setStakersPool keep a pool behind the StakersPool destination", async () => {
      const f = await loadFixture(treasuryFixture);
      const t = f.treasury;
      await a.revertWithCustomErrorWithArgs(
        t.write.setBuybackDestination([2]),
        t,
        "FabstirTreasuryInvalidDestination",
        [2],
      );
      await t.write.setBuybackDestination([Destination.StakersPool]);
      await a.revertWithCustomError(
        t.write.setStakersPool([zeroAddress]),
        t,
        "FabstirTreasuryStakersPoolInUse",
      );
      await t.write.setBuybackDestination([Destination.Burn]);
      await a.emitWithArgs(t.write.setStakersPool([zeroAddress]), t, "StakersPoolUpdated", [
        f.pool.account.address,
        zeroAddress,
      ]);
      await a.revertWithCustomErrorWithArgs(
        t.write.setBuybackDestination([Destination.StakersPool]),
        t,
        "FabstirTreasuryInvalidDestination",
        [Destination.StakersPool],
      );
    });

    it("setSwapPath requires token (WETH for ETH) to FAB in 2 to 4 distinct hops", async () => {
      const f = await loadFixture(treasuryFixture);
      const t = f.treasury;
      const [usd, weth, fab] = [f.usd.address, f.uni.weth.address, f.fab.address];
      const bad: [Address, Address[]][] = [
        [usd, [usd]],
        [usd, [usd, weth, usd, weth, fab]],
        [usd, [weth, fab]],
        [usd, [usd, weth]],
        [usd, [usd, fab, fab]],
        [usd, [usd, zeroAddress, fab]],
        [ETH, [usd, fab]],
        [ETH, [ETH, fab]],
        [fab, [fab, weth, fab]],
      ];
      for (const [token, path] of bad) {
        await a.revertWithCustomError(
          t.write.setSwapPath([token, path]),
          t,
          "FabstirTreasuryInvalidSwapPath",
        );
      }
      await t.write.setSwapPath([usd, [usd, weth, fab]]);
      await t.write.setSwapPath([ETH, [weth, usd, fab]]);
      assert.deepEqual(
        await t.read.swapPath([ETH]),
        [weth, usd, fab].map((x) => getAddress(x)),
      );
    });

    it("setRouter moves to another router and rebases the ETH path on its WETH", async () => {
      const f = await loadFixture(treasuryFixture);
      const t = f.treasury;
      await a.revertWithCustomError(
        t.write.setRouter([zeroAddress]),
        t,
        "FabstirTreasuryZeroAddress",
      );
      const other = await deployUniswapV2(connection);
      const hash = await t.write.setRouter([other.router.address]);
      await a.emitWithArgs(hash, t, "RouterUpdated", [f.uni.router.address, other.router.address]);
      await a.emit(hash, t, "SwapPathUpdated");
      assert.equal(await t.read.router(), getAddress(other.router.address));
      assert.deepEqual(await t.read.swapPath([ETH]), [
        getAddress(other.weth.address),
        getAddress(f.fab.address),
      ]);
    });
  });

  describe("UniswapV2Local (Ignition)", () => {
    it("deploys WETH9, the factory and Router02 wired together, and a seeded pool works", async () => {
      const deployed = await connection.ignition.deploy(UniswapV2Local);
      const uni = await uniswapV2At(connection, {
        weth: deployed.weth.address,
        factory: deployed.factory.address,
        router: deployed.router.address,
      });
      const [admin] = await viem.getWalletClients();
      if (!admin) throw new Error("no accounts");
      assert.equal(await uni.router.read.WETH(), getAddress(uni.weth.address));
      assert.equal(await uni.router.read.factory(), getAddress(uni.factory.address));
      assert.equal(await uni.factory.read.feeToSetter(), getAddress(admin.account.address));
      // A seeded pool only works if the packaged Pair's init code hash matches the router's.
      const usd = await viem.deployContract("TestStablecoin");
      await usd.write.mint([admin.account.address, 3_000n * USD]);
      const pair = await seedEthPool(
        connection,
        uni,
        usd.address,
        3_000n * USD,
        parseEther("1"),
        admin.account.address,
      );
      const { reserveIn, reserveOut } = await reservesFor(pair, usd.address);
      assert.equal(reserveIn, 3_000n * USD);
      assert.equal(reserveOut, parseEther("1"));
      assert.deepEqual(
        await uni.router.read.getAmountsOut([parseEther("0.01"), [uni.weth.address, usd.address]]),
        [parseEther("0.01"), amountOut(parseEther("0.01"), parseEther("1"), 3_000n * USD)],
      );
    });
  });
});
