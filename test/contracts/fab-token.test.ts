import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { network } from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import {
  encodeAbiParameters,
  encodeFunctionData,
  getAddress,
  type Hash,
  keccak256,
  parseSignature,
  stringToHex,
  zeroAddress,
  zeroHash,
} from "viem";
import {
  deployProxy,
  deploySystem,
  FAB,
  implementationOf,
  MIN_STAKE,
  registerHost,
  signPermit,
  UNBONDING,
} from "../../fixtures/system.ts";

const SUPPLY = 1_000_000_000n * FAB; // the Ignition module's default fabSupply
const HOST_FUNDING = 10_000n * FAB; // deploySystem gives host and host2 this much each
const PAUSER_ROLE = keccak256(stringToHex("PAUSER_ROLE"));
const UPGRADER_ROLE = keccak256(stringToHex("UPGRADER_ROLE"));

async function tokenFixture(connection: NetworkConnection) {
  const sys = await deploySystem(connection);
  const wallets = await connection.viem.getWalletClients();
  const [spender, treasury] = [wallets[5], wallets[6]];
  if (!spender || !treasury) throw new Error("need 7 accounts");
  return { ...sys, spender, treasury };
}

describe("FABToken", async () => {
  const connection = await network.create();
  const { viem, networkHelpers } = connection;
  const { loadFixture, time } = networkHelpers;
  const publicClient = await viem.getPublicClient();
  const a = viem.assertions;

  async function timestampOf(hash: Hash): Promise<bigint> {
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    return (await publicClient.getBlock({ blockNumber: receipt.blockNumber })).timestamp;
  }

  async function deadlineIn(seconds: bigint): Promise<bigint> {
    return BigInt(await time.latest()) + seconds;
  }

  /** A FABToken proxy initialized with (admin, treasury, supply), over the deployed implementation. */
  async function freshToken(
    f: Awaited<ReturnType<typeof tokenFixture>>,
    admin: `0x${string}`,
    treasury: `0x${string}`,
    supply: bigint,
  ) {
    const impl = await implementationOf(f, f.fab.address);
    const data = encodeFunctionData({
      abi: f.fab.abi,
      functionName: "initialize",
      args: [admin, treasury, supply],
    });
    const { address, hash } = await deployProxy(connection, impl, data);
    return { token: await viem.getContractAt("FABToken", address), hash };
  }

  // ---------------------------------------------------------------- initialize

  describe("initialize", () => {
    it("names the token Fabstir (FAB, 18 decimals)", async () => {
      const { fab } = await loadFixture(tokenFixture);
      assert.equal(await fab.read.name(), "Fabstir");
      assert.equal(await fab.read.symbol(), "FAB");
      assert.equal(await fab.read.decimals(), 18);
    });

    it("the deployed supply is 1e9 FAB, all minted to the treasury (the admin account locally)", async () => {
      const { fab, admin, host, host2 } = await loadFixture(tokenFixture);
      assert.equal(await fab.read.totalSupply(), SUPPLY);
      assert.equal(await fab.read.balanceOf([admin.account.address]), SUPPLY - 2n * HOST_FUNDING);
      assert.equal(await fab.read.balanceOf([host.account.address]), HOST_FUNDING);
      assert.equal(await fab.read.balanceOf([host2.account.address]), HOST_FUNDING);
    });

    it("mints the whole supply to a separate treasury and gives the roles to the admin only", async () => {
      const f = await loadFixture(tokenFixture);
      const admin = f.other.account.address;
      const treasury = f.treasury.account.address;
      const { token, hash } = await freshToken(f, admin, treasury, 123n * FAB);
      await a.emitWithArgs(hash, token, "Transfer", [zeroAddress, treasury, 123n * FAB]);
      assert.equal(await token.read.totalSupply(), 123n * FAB);
      assert.equal(await token.read.balanceOf([treasury]), 123n * FAB);
      assert.equal(await token.read.balanceOf([admin]), 0n);
      for (const role of [zeroHash, PAUSER_ROLE, UPGRADER_ROLE]) {
        assert.equal(await token.read.hasRole([role, admin]), true);
        assert.equal(await token.read.hasRole([role, treasury]), false);
        // the deployer (account 0) gets nothing either
        assert.equal(await token.read.hasRole([role, f.admin.account.address]), false);
      }
    });

    it("rejects a zero admin or a zero treasury (FABTokenZeroAddress)", async () => {
      const f = await loadFixture(tokenFixture);
      const impl = await implementationOf(f, f.fab.address);
      const init = (args: readonly [`0x${string}`, `0x${string}`, bigint]) =>
        encodeFunctionData({ abi: f.fab.abi, functionName: "initialize", args });
      await a.revertWithCustomError(
        deployProxy(connection, impl, init([zeroAddress, f.treasury.account.address, SUPPLY])),
        f.fab,
        "FABTokenZeroAddress",
      );
      await a.revertWithCustomError(
        deployProxy(connection, impl, init([f.admin.account.address, zeroAddress, SUPPLY])),
        f.fab,
        "FABTokenZeroAddress",
      );
    });

    it("rejects a supply above the votes cap (2^208 - 1)", async () => {
      const f = await loadFixture(tokenFixture);
      const impl = await implementationOf(f, f.fab.address);
      const data = encodeFunctionData({
        abi: f.fab.abi,
        functionName: "initialize",
        args: [f.admin.account.address, f.treasury.account.address, 2n ** 208n],
      });
      await a.revertWithCustomErrorWithArgs(
        deployProxy(connection, impl, data),
        f.fab,
        "ERC20ExceededSafeSupply",
        [2n ** 208n, 2n ** 208n - 1n],
      );
    });

    it("cannot be called twice, nor on the implementation", async () => {
      const f = await loadFixture(tokenFixture);
      await a.revertWithCustomError(
        f.fab.write.initialize([f.other.account.address, f.other.account.address, 1n]),
        f.fab,
        "InvalidInitialization",
      );
      const impl = await viem.getContractAt("FABToken", await implementationOf(f, f.fab.address));
      await a.revertWithCustomError(
        impl.write.initialize([f.other.account.address, f.other.account.address, 1n], {
          account: f.other.account,
        }),
        impl,
        "InvalidInitialization",
      );
      assert.equal(await impl.read.totalSupply(), 0n);
    });

    it("has no mint function: the supply is fixed, and only a holder burns its own FAB", async () => {
      const { fab, host, spender } = await loadFixture(tokenFixture);
      const functions: string[] = fab.abi.filter((x) => x.type === "function").map((x) => x.name);
      assert.ok(functions.includes("transfer"), "sanity: the ABI lists functions");
      for (const name of ["mint", "burnFrom"]) {
        assert.equal(functions.includes(name), false, `unexpected ${name}()`);
      }
      // burn (the treasury's buybacks use it) takes only the caller's own balance.
      const supply = await fab.read.totalSupply();
      const balance = await fab.read.balanceOf([host.account.address]);
      await a.emitWithArgs(fab.write.burn([3n * FAB], { account: host.account }), fab, "Transfer", [
        host.account.address,
        zeroAddress,
        3n * FAB,
      ]);
      assert.equal(await fab.read.totalSupply(), supply - 3n * FAB);
      assert.equal(await fab.read.balanceOf([host.account.address]), balance - 3n * FAB);
      await a.revertWithCustomError(
        fab.write.burn([1n], { account: spender.account }),
        fab,
        "ERC20InsufficientBalance",
      );
    });
  });

  // ---------------------------------------------------------------- ERC-20

  describe("ERC-20 transfers", () => {
    it("transfer moves balances and emits Transfer", async () => {
      const { fab, host, host2 } = await loadFixture(tokenFixture);
      const hash = await fab.write.transfer([host2.account.address, 5n * FAB], {
        account: host.account,
      });
      await a.emitWithArgs(hash, fab, "Transfer", [
        host.account.address,
        host2.account.address,
        5n * FAB,
      ]);
      assert.equal(await fab.read.balanceOf([host.account.address]), HOST_FUNDING - 5n * FAB);
      assert.equal(await fab.read.balanceOf([host2.account.address]), HOST_FUNDING + 5n * FAB);
      assert.equal(await fab.read.totalSupply(), SUPPLY);
    });

    it("transfer above the balance reverts ERC20InsufficientBalance", async () => {
      const { fab, host, host2 } = await loadFixture(tokenFixture);
      await a.revertWithCustomErrorWithArgs(
        fab.write.transfer([host2.account.address, HOST_FUNDING + 1n], { account: host.account }),
        fab,
        "ERC20InsufficientBalance",
        [host.account.address, HOST_FUNDING, HOST_FUNDING + 1n],
      );
    });

    it("approve + transferFrom spends the allowance", async () => {
      const { fab, host, spender, other } = await loadFixture(tokenFixture);
      await a.emitWithArgs(
        fab.write.approve([spender.account.address, 10n], { account: host.account }),
        fab,
        "Approval",
        [host.account.address, spender.account.address, 10n],
      );
      await fab.write.transferFrom([host.account.address, other.account.address, 4n], {
        account: spender.account,
      });
      assert.equal(await fab.read.allowance([host.account.address, spender.account.address]), 6n);
      assert.equal(await fab.read.balanceOf([other.account.address]), 4n);
      await a.revertWithCustomErrorWithArgs(
        fab.write.transferFrom([host.account.address, other.account.address, 7n], {
          account: spender.account,
        }),
        fab,
        "ERC20InsufficientAllowance",
        [spender.account.address, 6n, 7n],
      );
    });
  });

  // ---------------------------------------------------------------- permit

  describe("permit (EIP-2612)", () => {
    it("uses the EIP-712 domain (Fabstir, 1, chain id, token)", async () => {
      const { fab } = await loadFixture(tokenFixture);
      const chainId = BigInt(await publicClient.getChainId());
      const [fields, name, version, domainChainId, verifyingContract, salt, extensions] =
        await fab.read.eip712Domain();
      assert.equal(fields, "0x0f");
      assert.equal(name, "Fabstir");
      assert.equal(version, "1");
      assert.equal(domainChainId, chainId);
      assert.equal(verifyingContract, getAddress(fab.address));
      assert.equal(salt, zeroHash);
      assert.deepEqual(extensions, []);
      const typeHash = keccak256(
        stringToHex(
          "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)",
        ),
      );
      const separator = keccak256(
        encodeAbiParameters(
          [
            { type: "bytes32" },
            { type: "bytes32" },
            { type: "bytes32" },
            { type: "uint256" },
            { type: "address" },
          ],
          [
            typeHash,
            keccak256(stringToHex("Fabstir")),
            keccak256(stringToHex("1")),
            chainId,
            fab.address,
          ],
        ),
      );
      assert.equal(await fab.read.DOMAIN_SEPARATOR(), separator);
    });

    it("a valid permit sets the allowance, bumps the nonce and lets the spender pull", async () => {
      const { fab, host, spender, other } = await loadFixture(tokenFixture);
      const deadline = await deadlineIn(3_600n);
      const p = await signPermit(fab, host, spender.account.address, 50n * FAB, deadline);
      // anyone may submit it
      const hash = await fab.write.permit(
        [host.account.address, spender.account.address, 50n * FAB, deadline, p.v, p.r, p.s],
        { account: other.account },
      );
      await a.emitWithArgs(hash, fab, "Approval", [
        host.account.address,
        spender.account.address,
        50n * FAB,
      ]);
      assert.equal(
        await fab.read.allowance([host.account.address, spender.account.address]),
        50n * FAB,
      );
      assert.equal(await fab.read.nonces([host.account.address]), 1n);
      await fab.write.transferFrom([host.account.address, spender.account.address, 50n * FAB], {
        account: spender.account,
      });
      assert.equal(await fab.read.balanceOf([spender.account.address]), 50n * FAB);
    });

    it("rejects an expired permit (ERC2612ExpiredSignature)", async () => {
      const { fab, host, spender } = await loadFixture(tokenFixture);
      const deadline = BigInt(await time.latest());
      const p = await signPermit(fab, host, spender.account.address, 1n, deadline);
      await a.revertWithCustomErrorWithArgs(
        fab.write.permit([
          host.account.address,
          spender.account.address,
          1n,
          deadline,
          p.v,
          p.r,
          p.s,
        ]),
        fab,
        "ERC2612ExpiredSignature",
        [deadline],
      );
    });

    it("rejects a permit for the owner signed by someone else (ERC2612InvalidSigner)", async () => {
      const { fab, host, host2, spender } = await loadFixture(tokenFixture);
      const deadline = await deadlineIn(3_600n);
      // host2 signs a permit that names host as the owner
      const signature = await host2.signTypedData({
        account: host2.account,
        domain: {
          name: "Fabstir",
          version: "1",
          chainId: await publicClient.getChainId(),
          verifyingContract: fab.address,
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
          owner: host.account.address,
          spender: spender.account.address,
          value: 1n,
          nonce: 0n,
          deadline,
        },
      });
      const { r, s, v, yParity } = parseSignature(signature);
      await a.revertWithCustomErrorWithArgs(
        fab.write.permit([
          host.account.address,
          spender.account.address,
          1n,
          deadline,
          Number(v ?? BigInt(yParity + 27)),
          r,
          s,
        ]),
        fab,
        "ERC2612InvalidSigner",
        [host2.account.address, host.account.address],
      );
    });

    it("rejects a replayed permit", async () => {
      const { fab, host, spender } = await loadFixture(tokenFixture);
      const deadline = await deadlineIn(3_600n);
      const p = await signPermit(fab, host, spender.account.address, 1n, deadline);
      const args = [
        host.account.address,
        spender.account.address,
        1n,
        deadline,
        p.v,
        p.r,
        p.s,
      ] as const;
      await fab.write.permit(args);
      await a.revertWithCustomErrorWithArgs(fab.write.permit(args), fab, "ERC2612InvalidSigner", [
        (signer: string) => signer.toLowerCase() !== host.account.address.toLowerCase(),
        host.account.address,
      ]);
      assert.equal(await fab.read.nonces([host.account.address]), 1n);
    });

    it("rejects a permit whose value differs from the signed one", async () => {
      const { fab, host, spender } = await loadFixture(tokenFixture);
      const deadline = await deadlineIn(3_600n);
      const p = await signPermit(fab, host, spender.account.address, 1n, deadline);
      await a.revertWithCustomError(
        fab.write.permit([
          host.account.address,
          spender.account.address,
          2n,
          deadline,
          p.v,
          p.r,
          p.s,
        ]),
        fab,
        "ERC2612InvalidSigner",
      );
      assert.equal(await fab.read.allowance([host.account.address, spender.account.address]), 0n);
    });
  });

  // ---------------------------------------------------------------- votes

  describe("votes (ERC-5805 on a timestamp clock)", () => {
    it("CLOCK_MODE is mode=timestamp and clock() is the block timestamp", async () => {
      const { fab } = await loadFixture(tokenFixture);
      assert.equal(await fab.read.CLOCK_MODE(), "mode=timestamp");
      assert.equal(await fab.read.clock(), await time.latest());
      await time.increase(12_345);
      const latest = await time.latest();
      assert.equal(await fab.read.clock(), latest);
      // far from any block number: the clock is not block-based
      assert.notEqual(BigInt(latest), await publicClient.getBlockNumber());
    });

    it("a balance carries no votes until delegated", async () => {
      const { fab, host } = await loadFixture(tokenFixture);
      assert.equal(await fab.read.getVotes([host.account.address]), 0n);
      assert.equal(await fab.read.delegates([host.account.address]), zeroAddress);
    });

    it("self-delegation gives the balance as votes and emits DelegateChanged/DelegateVotesChanged", async () => {
      const { fab, host } = await loadFixture(tokenFixture);
      const h = host.account.address;
      const hash = await fab.write.delegate([h], { account: host.account });
      await a.emitWithArgs(hash, fab, "DelegateChanged", [h, zeroAddress, h]);
      await a.emitWithArgs(hash, fab, "DelegateVotesChanged", [h, 0n, HOST_FUNDING]);
      assert.equal(await fab.read.delegates([h]), getAddress(h));
      assert.equal(await fab.read.getVotes([h]), HOST_FUNDING);
      assert.equal(await fab.read.numCheckpoints([h]), 1);
      const [timepoint, votes] = Object.values(await fab.read.checkpoints([h, 0])) as [
        number,
        bigint,
      ];
      assert.equal(BigInt(timepoint), await timestampOf(hash));
      assert.equal(votes, HOST_FUNDING);
    });

    it("delegating to another account moves the votes", async () => {
      const { fab, host, host2 } = await loadFixture(tokenFixture);
      await fab.write.delegate([host.account.address], { account: host.account });
      await fab.write.delegate([host2.account.address], { account: host.account });
      assert.equal(await fab.read.getVotes([host.account.address]), 0n);
      assert.equal(await fab.read.getVotes([host2.account.address]), HOST_FUNDING);
    });

    it("transfers move votes between delegates", async () => {
      const { fab, host, host2 } = await loadFixture(tokenFixture);
      await fab.write.delegate([host.account.address], { account: host.account });
      await fab.write.delegate([host2.account.address], { account: host2.account });
      await fab.write.transfer([host2.account.address, 1_000n * FAB], { account: host.account });
      assert.equal(await fab.read.getVotes([host.account.address]), HOST_FUNDING - 1_000n * FAB);
      assert.equal(await fab.read.getVotes([host2.account.address]), HOST_FUNDING + 1_000n * FAB);
    });

    it("getPastVotes and getPastTotalSupply look up by timestamp; the future reverts ERC5805FutureLookup", async () => {
      const { fab, host, host2 } = await loadFixture(tokenFixture);
      const t0 = await timestampOf(
        await fab.write.delegate([host.account.address], { account: host.account }),
      );
      await time.increase(100);
      const t1 = await timestampOf(
        await fab.write.transfer([host2.account.address, 4_000n * FAB], { account: host.account }),
      );
      await time.increase(100);
      assert.equal(await fab.read.getPastVotes([host.account.address, t0 - 1n]), 0n);
      assert.equal(await fab.read.getPastVotes([host.account.address, t0]), HOST_FUNDING);
      assert.equal(await fab.read.getPastVotes([host.account.address, t1 - 1n]), HOST_FUNDING);
      assert.equal(
        await fab.read.getPastVotes([host.account.address, t1]),
        HOST_FUNDING - 4_000n * FAB,
      );
      assert.equal(await fab.read.getPastTotalSupply([t1]), SUPPLY);
      const now = await time.latest();
      await a.revertWithCustomErrorWithArgs(
        fab.read.getPastVotes([host.account.address, BigInt(now) + 1_000n]),
        fab,
        "ERC5805FutureLookup",
        [BigInt(now) + 1_000n, now],
      );
    });

    it("delegateBySig delegates with a signature and shares the permit nonce", async () => {
      const { fab, host, host2, other } = await loadFixture(tokenFixture);
      const expiry = await deadlineIn(3_600n);
      const nonce = await fab.read.nonces([host.account.address]);
      const signature = await host.signTypedData({
        account: host.account,
        domain: {
          name: "Fabstir",
          version: "1",
          chainId: await publicClient.getChainId(),
          verifyingContract: fab.address,
        },
        types: {
          Delegation: [
            { name: "delegatee", type: "address" },
            { name: "nonce", type: "uint256" },
            { name: "expiry", type: "uint256" },
          ],
        },
        primaryType: "Delegation",
        message: { delegatee: host2.account.address, nonce, expiry },
      });
      const { r, s, v, yParity } = parseSignature(signature);
      const hash = await fab.write.delegateBySig(
        [host2.account.address, nonce, expiry, Number(v ?? BigInt(yParity + 27)), r, s],
        { account: other.account },
      );
      await a.emitWithArgs(hash, fab, "DelegateChanged", [
        host.account.address,
        zeroAddress,
        host2.account.address,
      ]);
      assert.equal(await fab.read.getVotes([host2.account.address]), HOST_FUNDING);
      assert.equal(await fab.read.nonces([host.account.address]), nonce + 1n);
    });

    it("staked FAB keeps its votes: the registry holds it in custody for the host", async () => {
      const f = await loadFixture(tokenFixture);
      await f.fab.write.delegate([f.host.account.address], { account: f.host.account });
      await registerHost(f, f.host);
      assert.equal(await f.fab.read.getVotes([f.host.account.address]), HOST_FUNDING);
      assert.equal(await f.fab.read.balanceOf([f.host.account.address]), HOST_FUNDING - MIN_STAKE);
      assert.equal(await f.fab.read.custodiedOf([f.host.account.address]), MIN_STAKE);
      assert.equal(await f.fab.read.heldBy([f.registry.address]), MIN_STAKE);
      // The registry itself votes with none of it.
      assert.equal(await f.fab.read.getVotes([f.registry.address]), 0n);
    });
  });

  // ---------------------------------------------------------------- pause

  describe("pause / unpause", () => {
    it("only PAUSER_ROLE can pause, only the admin unpause (AccessControlUnauthorizedAccount)", async () => {
      const { fab, other } = await loadFixture(tokenFixture);
      await a.revertWithCustomErrorWithArgs(
        fab.write.pause({ account: other.account }),
        fab,
        "AccessControlUnauthorizedAccount",
        [other.account.address, PAUSER_ROLE],
      );
      await fab.write.pause();
      // Unpausing is the admin's (governance's), not the pauser's (the guardian's).
      await a.revertWithCustomErrorWithArgs(
        fab.write.unpause({ account: other.account }),
        fab,
        "AccessControlUnauthorizedAccount",
        [other.account.address, zeroHash],
      );
      assert.equal(await fab.read.paused(), true);
    });

    it("pause emits Paused and blocks transfer and transferFrom with EnforcedPause", async () => {
      const { fab, admin, host, host2, spender } = await loadFixture(tokenFixture);
      await fab.write.approve([spender.account.address, 10n], { account: host.account });
      await a.emitWithArgs(fab.write.pause(), fab, "Paused", [admin.account.address]);
      assert.equal(await fab.read.paused(), true);
      await a.revertWithCustomError(
        fab.write.transfer([host2.account.address, 1n], { account: host.account }),
        fab,
        "EnforcedPause",
      );
      await a.revertWithCustomError(
        fab.write.transferFrom([host.account.address, host2.account.address, 1n], {
          account: spender.account,
        }),
        fab,
        "EnforcedPause",
      );
      await a.revertWithCustomError(fab.write.pause(), fab, "EnforcedPause");
    });

    it("a paused token also stops staking and unstaking in the registry", async () => {
      const f = await loadFixture(tokenFixture);
      await registerHost(f, f.host);
      await f.registry.write.requestUnstake([1n], { account: f.host.account });
      await time.increase(UNBONDING);
      await f.fab.write.pause();
      await a.revertWithCustomError(
        f.registry.write.addStake([1n], { account: f.host.account }),
        f.fab,
        "EnforcedPause",
      );
      await a.revertWithCustomError(
        f.registry.write.withdrawUnstaked({ account: f.host.account }),
        f.fab,
        "EnforcedPause",
      );
    });

    it("approve, permit and delegate still work while paused", async () => {
      const { fab, host, host2, spender } = await loadFixture(tokenFixture);
      await fab.write.pause();
      await fab.write.approve([spender.account.address, 3n], { account: host.account });
      assert.equal(await fab.read.allowance([host.account.address, spender.account.address]), 3n);
      const deadline = await deadlineIn(3_600n);
      const p = await signPermit(fab, host2, spender.account.address, 4n, deadline);
      await fab.write.permit([
        host2.account.address,
        spender.account.address,
        4n,
        deadline,
        p.v,
        p.r,
        p.s,
      ]);
      assert.equal(await fab.read.allowance([host2.account.address, spender.account.address]), 4n);
      await fab.write.delegate([host.account.address], { account: host.account });
      assert.equal(await fab.read.getVotes([host.account.address]), HOST_FUNDING);
    });

    it("unpause emits Unpaused and transfers work again; unpausing twice reverts ExpectedPause", async () => {
      const { fab, admin, host, host2 } = await loadFixture(tokenFixture);
      await fab.write.pause();
      await a.emitWithArgs(fab.write.unpause(), fab, "Unpaused", [admin.account.address]);
      assert.equal(await fab.read.paused(), false);
      await fab.write.transfer([host2.account.address, 1n], { account: host.account });
      assert.equal(await fab.read.balanceOf([host2.account.address]), HOST_FUNDING + 1n);
      await a.revertWithCustomError(fab.write.unpause(), fab, "ExpectedPause");
    });

    it("the admin can grant PAUSER_ROLE to another account, which can then pause but not unpause", async () => {
      const { fab, other } = await loadFixture(tokenFixture);
      assert.equal(await fab.read.getRoleAdmin([PAUSER_ROLE]), zeroHash);
      await fab.write.grantRole([PAUSER_ROLE, other.account.address]);
      await fab.write.pause({ account: other.account });
      assert.equal(await fab.read.paused(), true);
      await a.revertWithCustomErrorWithArgs(
        fab.write.unpause({ account: other.account }),
        fab,
        "AccessControlUnauthorizedAccount",
        [other.account.address, zeroHash],
      );
      await fab.write.unpause();
      assert.equal(await fab.read.paused(), false);
    });

    it("revoking PAUSER_ROLE from the admin takes the power away", async () => {
      const { fab, admin } = await loadFixture(tokenFixture);
      await fab.write.revokeRole([PAUSER_ROLE, admin.account.address]);
      await a.revertWithCustomErrorWithArgs(
        fab.write.pause(),
        fab,
        "AccessControlUnauthorizedAccount",
        [admin.account.address, PAUSER_ROLE],
      );
      assert.equal(await fab.read.hasRole([PAUSER_ROLE, admin.account.address]), false);
    });
  });
});
