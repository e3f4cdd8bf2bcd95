/**
 * ProofSystem: the verifier registry, output-count proofs of jobs and sessions (real Groth16
 * proofs made with snarkjs from the committed circuits/build/ setup, checked by the generated
 * verifier on the Hardhat chain), batch gas, both challenge kinds through every outcome with
 * bonds in ETH and in an ERC-20, and an upgrade that keeps the state.
 */
import assert from "node:assert/strict";
import { after, beforeEach, describe, it } from "node:test";
import { network } from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import {
  encodeAbiParameters,
  encodeFunctionData,
  getAddress,
  type Hex,
  keccak256,
  parseEther,
  parseEventLogs,
  stringToHex,
  zeroAddress,
  zeroHash,
} from "viem";
import { openSession, receiptFor, sessionRequest, signReceipt } from "../../fixtures/sessions.ts";
import {
  deployProxy,
  deploySystem,
  ETH,
  implementationOf,
  MODEL,
  OTHER_MODEL,
  OUTPUT,
  PROMPT,
  postJob,
  registration,
  type System,
  USD,
} from "../../fixtures/system.ts";
import {
  bindingOf,
  type ChunkProof,
  disposeProver,
  outputCommitment,
  ProofWork,
  proveOutput,
  toChunkArgs,
} from "../../protocol/proofs.ts";
import { type SessionTerms, termsHash } from "../../protocol/sessions.ts";

const Work = ProofWork;
const Kind = { Count: 0, Output: 1 } as const;
const Status = {
  None: 0,
  Open: 1,
  Answered: 2,
  Unanswered: 3,
  Upheld: 4,
  Rejected: 5,
  Unarbitrated: 6,
  Voided: 7,
} as const;
const JobStatus = { Claimed: 2, Completed: 3, Disputed: 4, Settled: 5 } as const;
const HOST_PRICE = parseEther("0.000001");
const USD_PRICE = 2n;
const BOND_ID = 1n << 254n;
const DAY = 86_400n;
const EVIDENCE = keccak256(stringToHex("request, answer and top-k check, revealed to resolvers"));
const role = (name: string) => keccak256(stringToHex(name));

const connection = await network.create();
const { viem, networkHelpers } = connection;
const { time } = networkHelpers;
const a = viem.assertions;

after(async () => {
  await disposeProver();
});

/** Deploys the ProofSystem behind a FabstirProxy over `sys`, with the output-count verifier as
 * the default and the reputation double as recorder, and makes it an escrow locker. */
async function deployProofSystem(c: NetworkConnection, sys: System) {
  const verifier = await c.viem.deployContract("OutputCountVerifier");
  const recorder = await c.viem.deployContract("TestReputationRecorder");
  const impl = await c.viem.deployContract("ProofSystem", [
    sys.marketplace.address,
    sys.sessions.address,
    sys.escrow.address,
  ]);
  const data = encodeFunctionData({
    abi: impl.abi,
    functionName: "initialize",
    args: [sys.admin.account.address, verifier.address, recorder.address],
  });
  const { address, hash } = await deployProxy(c, impl.address, data);
  const proofs = await c.viem.getContractAt("ProofSystem", address);
  await sys.escrow.write.setLocker([proofs.address, true]);
  return { proofs, verifier, recorder, impl, deployHash: hash };
}

/** The system, a host selling MODEL for ETH and tUSD, the ProofSystem, and a funded challenger. */
async function withProofs() {
  const sys = await deploySystem(connection);
  const offers = [
    { modelId: MODEL, token: ETH, pricePerToken: HOST_PRICE },
    { modelId: MODEL, token: sys.usd.address, pricePerToken: USD_PRICE },
  ];
  await sys.registry.write.register([registration({ offers })], { account: sys.host.account });
  const deployed = await deployProofSystem(connection, sys);
  const challenger = sys.other;
  await sys.usd.write.mint([challenger.account.address, 1_000n * USD]);
  await sys.usd.write.approve([sys.escrow.address, 2n ** 256n - 1n], {
    account: challenger.account,
  });
  return { ...sys, ...deployed, challenger };
}

let sys: Awaited<ReturnType<typeof withProofs>>;
beforeEach(async () => {
  sys = await networkHelpers.loadFixture(withProofs);
});

const addr = (w: { account: { address: Hex } }) => getAddress(w.account.address);

// ---------------------------------------------------------------- outputs and proofs

/** A deterministic output of `n` token ids (a different one per `seed`). */
function output(n: number, seed = 1): number[] {
  return Array.from({ length: n }, (_, i) => (seed * 7_919 + i * 104_729) % 32_000);
}

const proofCache = new Map<string, Promise<{ chunks: ChunkProof[]; commitment: bigint }>>();
/** Proves `tokenIds` (cached: the fixture gives every test the same ids, so the same bindings). */
function prove(binding: bigint, tokenIds: number[], start?: bigint) {
  const key = `${binding}:${start}:${tokenIds.join(",")}`;
  let p = proofCache.get(key);
  if (!p) {
    p = proveOutput({ binding, tokenIds, start });
    proofCache.set(key, p);
  }
  return p;
}

function jobBinding(jobId: bigint, requestHash: Hex = PROMPT, modelId: Hex = MODEL) {
  return bindingOf({ kind: Work.Job, id: jobId, modelId, requestHash });
}

function sessionBinding(sessionId: bigint, terms: SessionTerms) {
  return bindingOf({
    kind: Work.Session,
    id: sessionId,
    modelId: terms.modelId,
    requestHash: termsHash(terms),
  });
}

/** Posts (ETH unless `token`), claims and completes a job with `tokens` billed. */
async function completedJob(tokens: number, token: Hex = ETH): Promise<bigint> {
  const overrides = token === ETH ? {} : { token, maxPricePerToken: USD_PRICE };
  const { jobId } = await postJob(sys, overrides);
  await sys.marketplace.write.claimJob([jobId], { account: sys.host.account });
  await sys.marketplace.write.completeJob([jobId, OUTPUT, tokens], { account: sys.host.account });
  return jobId;
}

async function submitJob(jobId: bigint, tokenIds: number[], from = sys.host) {
  const { chunks } = await prove(jobBinding(jobId), tokenIds);
  return sys.proofs.write.submitJobProof([jobId, PROMPT, toChunkArgs(chunks)], {
    account: from.account,
  });
}

/** Opens a session (ETH unless `token`) and checkpoints `tokens` with the renter's receipt. */
async function checkpointedSession(tokens: number, token: Hex = ETH) {
  const usd = token !== ETH;
  const r = await sessionRequest(sys, {
    token,
    maxPricePerToken: usd ? USD_PRICE : 2n * HOST_PRICE,
    deposit: usd ? 10_000n * USD_PRICE : 10_000n * HOST_PRICE,
  });
  if (usd)
    await sys.usd.write.approve([sys.escrow.address, r.deposit], { account: sys.renter.account });
  const { sessionId, terms } = await openSession(sys, r);
  await checkpoint(sessionId, terms, tokens);
  return { sessionId, terms };
}

async function checkpoint(sessionId: bigint, terms: SessionTerms, tokens: number) {
  const receipt = receiptFor(sessionId, terms, tokens);
  const signature = await signReceipt(sys.renter, sys.sessions.address, receipt);
  await sys.sessions.write.checkpoint([terms, sessionId, receipt, signature], {
    account: sys.host.account,
  });
}

async function gasOf(hash: Hex | Promise<Hex>): Promise<bigint> {
  const receipt = await sys.publicClient.waitForTransactionReceipt({ hash: await hash });
  assert.equal(receipt.status, "success");
  return receipt.gasUsed;
}

async function escrowBalance(who: { account: { address: Hex } }, token: Hex = ETH) {
  return sys.escrow.read.balanceOf([who.account.address, token]);
}

// ---------------------------------------------------------------- tests

describe("ProofSystem", () => {
  describe("deployment and verifier registry", () => {
    it("is initialized with the admin's roles, the default verifier, the reputation system and bounded defaults", async () => {
      for (const r of ["UPGRADER_ROLE", "VERIFIER_ADMIN_ROLE", "ARBITER_ROLE"]) {
        assert.equal(await sys.proofs.read.hasRole([role(r), sys.admin.account.address]), true, r);
      }
      assert.equal(await sys.proofs.read.hasRole([zeroHash, sys.admin.account.address]), true);
      assert.equal(await sys.proofs.read.defaultVerifier(), getAddress(sys.verifier.address));
      assert.deepEqual(await sys.proofs.read.verifierOf([MODEL]), [
        getAddress(sys.verifier.address),
        true,
      ]);
      assert.equal(await sys.proofs.read.reputation(), getAddress(sys.recorder.address));
      assert.deepEqual(await sys.proofs.read.windows(), [
        Number(3n * DAY),
        Number(3n * DAY),
        Number(DAY),
        Number(7n * DAY),
      ]);
      assert.equal(await sys.proofs.read.bondBps(), 1_000);
      assert.equal(await sys.proofs.read.nextChallengeId(), 1n);
      await a.emitWithArgs(Promise.resolve(sys.deployHash), sys.proofs, "DefaultVerifierSet", [
        zeroAddress,
        getAddress(sys.verifier.address),
      ]);
      await a.revertWithCustomError(
        sys.proofs.write.initialize([addr(sys.admin), zeroAddress, zeroAddress]),
        sys.proofs,
        "InvalidInitialization",
      );
      await a.revertWithCustomError(
        viem.deployContract("ProofSystem", [zeroAddress, sys.sessions.address, sys.escrow.address]),
        sys.proofs,
        "ProofSystemZeroAddress",
      );
    });

    it("sets, replaces and removes a model's own verifier (VERIFIER_ADMIN_ROLE only); the default covers the rest", async () => {
      const own = await viem.deployContract("OutputCountVerifier");
      const other = await viem.deployContract("OutputCountVerifier");
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.setVerifier([MODEL, own.address], { account: sys.other.account }),
        sys.proofs,
        "AccessControlUnauthorizedAccount",
        [addr(sys.other), role("VERIFIER_ADMIN_ROLE")],
      );
      await a.emitWithArgs(
        sys.proofs.write.setVerifier([MODEL, own.address]),
        sys.proofs,
        "VerifierSet",
        [MODEL, zeroAddress, getAddress(own.address)],
      );
      assert.deepEqual(await sys.proofs.read.verifierOf([MODEL]), [getAddress(own.address), false]);
      assert.deepEqual(await sys.proofs.read.verifierOf([OTHER_MODEL]), [
        getAddress(sys.verifier.address),
        true,
      ]);
      await a.emitWithArgs(
        sys.proofs.write.setVerifier([MODEL, other.address]),
        sys.proofs,
        "VerifierSet",
        [MODEL, getAddress(own.address), getAddress(other.address)],
      );
      await a.emitWithArgs(
        sys.proofs.write.removeVerifier([MODEL]),
        sys.proofs,
        "VerifierRemoved",
        [MODEL, getAddress(other.address)],
      );
      assert.deepEqual(await sys.proofs.read.verifierOf([MODEL]), [
        getAddress(sys.verifier.address),
        true,
      ]);
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.removeVerifier([MODEL]),
        sys.proofs,
        "ProofSystemNoVerifier",
        [MODEL],
      );
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.setVerifier([MODEL, sys.other.account.address]),
        sys.proofs,
        "ProofSystemNotContract",
        [addr(sys.other)],
      );
      await a.revertWithCustomError(
        sys.proofs.write.setVerifier([MODEL, zeroAddress]),
        sys.proofs,
        "ProofSystemZeroAddress",
      );
      await a.revertWithCustomError(
        sys.proofs.write.removeVerifier([OTHER_MODEL], { account: sys.other.account }),
        sys.proofs,
        "AccessControlUnauthorizedAccount",
      );
      await a.emitWithArgs(
        sys.proofs.write.setDefaultVerifier([zeroAddress]),
        sys.proofs,
        "DefaultVerifierSet",
        [getAddress(sys.verifier.address), zeroAddress],
      );
      assert.deepEqual(await sys.proofs.read.verifierOf([OTHER_MODEL]), [zeroAddress, true]);
      await a.revertWithCustomError(
        sys.proofs.write.setDefaultVerifier([sys.verifier.address], { account: sys.other.account }),
        sys.proofs,
        "AccessControlUnauthorizedAccount",
      );
    });

    it("uses the model's own verifier over the default: a verifier that refuses every proof blocks it", async () => {
      const jobId = await completedJob(5);
      // The escrow is a contract without verifyProof: every call to it reverts.
      await sys.proofs.write.setVerifier([MODEL, sys.escrow.address]);
      await a.revertWithCustomErrorWithArgs(
        submitJob(jobId, output(5)),
        sys.proofs,
        "ProofSystemInvalidProof",
        [0n],
      );
      await sys.proofs.write.removeVerifier([MODEL]);
      await submitJob(jobId, output(5));
      assert.equal((await sys.proofs.read.recordOf([Work.Job, jobId])).tokens, 5);
    });

    it("governs bonds and windows within bounds (DEFAULT_ADMIN_ROLE only)", async () => {
      const p = sys.proofs;
      await a.emitWithArgs(
        p.write.setWindows([3_600, 86_400, 600, 3_600]),
        p,
        "WindowsUpdated",
        [3_600, 86_400, 600, 3_600],
      );
      const bad: [number, number, number, number, string][] = [
        [3_599, 86_400, 600, 3_600, "jobChallengeWindow"],
        [3_600, 31 * 86_400, 600, 3_600, "sessionChallengeWindow"],
        [3_600, 86_400, 599, 3_600, "responseWindow"],
        [3_600, 86_400, 8 * 86_400, 3_600, "responseWindow"],
        [3_600, 86_400, 600, 3_599, "arbitrationWindow"],
      ];
      for (const [j, s, r, w, name] of bad) {
        await a.revertWithCustomErrorWithArgs(
          p.write.setWindows([j, s, r, w]),
          p,
          "ProofSystemInvalidParameter",
          [name],
        );
      }
      await a.emitWithArgs(p.write.setBondBps([5_000]), p, "BondBpsUpdated", [1_000, 5_000]);
      await a.revertWithCustomErrorWithArgs(
        p.write.setBondBps([5_001]),
        p,
        "ProofSystemInvalidParameter",
        ["bondBps"],
      );
      await a.emitWithArgs(p.write.setMinBond([sys.usd.address, 5n * USD]), p, "MinBondUpdated", [
        getAddress(sys.usd.address),
        0n,
        5n * USD,
      ]);
      assert.equal(await p.read.minBond([sys.usd.address]), 5n * USD);
      await a.revertWithCustomErrorWithArgs(
        p.write.setMinBond([ETH, 2n ** 96n]),
        p,
        "ProofSystemInvalidParameter",
        ["minBond"],
      );
      await a.emitWithArgs(p.write.setReputation([zeroAddress]), p, "ReputationUpdated", [
        getAddress(sys.recorder.address),
        zeroAddress,
      ]);
      for (const call of [
        p.write.setWindows([3_600, 3_600, 600, 3_600], { account: sys.other.account }),
        p.write.setBondBps([1], { account: sys.other.account }),
        p.write.setMinBond([ETH, 1n], { account: sys.other.account }),
        p.write.setReputation([zeroAddress], { account: sys.other.account }),
      ]) {
        await a.revertWithCustomError(call, p, "AccessControlUnauthorizedAccount");
      }
    });
  });

  describe("job proofs", () => {
    it("accepts a valid proof from the job's host: the stored commitment is the TS one", async () => {
      const jobId = await completedJob(70);
      const tokens = output(70);
      const binding = jobBinding(jobId);
      assert.equal(await sys.proofs.read.bindingOf([Work.Job, jobId, MODEL, PROMPT]), binding);
      const { commitment } = await prove(binding, tokens);
      assert.equal(commitment, outputCommitment(binding, tokens));
      await a.emitWithArgs(submitJob(jobId, tokens), sys.proofs, "OutputProven", [
        Work.Job,
        jobId,
        addr(sys.host),
        MODEL,
        PROMPT,
        binding,
        binding,
        commitment,
        0n,
        70n,
        2n,
        getAddress(sys.verifier.address),
      ]);
      const record = await sys.proofs.read.recordOf([Work.Job, jobId]);
      assert.equal(record.commitment, commitment);
      assert.deepEqual([record.tokens, record.chunks, record.proofs], [70, 2, 1]);
      assert.ok(record.provenAt > 0n);
      await a.revertWithCustomErrorWithArgs(
        submitJob(jobId, output(70)),
        sys.proofs,
        "ProofSystemAlreadyProven",
        [Work.Job, jobId],
      );
    });

    it("accepts a proof of a settled job and of a disputed one", async () => {
      const settled = await completedJob(3);
      await sys.marketplace.write.acceptJob([settled], { account: sys.renter.account });
      assert.equal((await sys.marketplace.read.getJob([settled]))[0].status, JobStatus.Settled);
      await submitJob(settled, output(3));
      const disputed = await completedJob(3);
      const bond = await sys.marketplace.read.disputeBondOf([disputed]);
      await sys.marketplace.write.disputeJob([disputed, zeroHash], {
        account: sys.renter.account,
        value: bond,
      });
      await submitJob(disputed, output(3));
      assert.equal((await sys.proofs.read.recordOf([Work.Job, disputed])).tokens, 3);
    });

    it("refuses a proof made for another binding (request, job or model)", async () => {
      const jobId = await completedJob(5);
      const tokens = output(5);
      const otherRequest = keccak256(stringToHex("another prompt"));
      for (const binding of [
        jobBinding(jobId, otherRequest),
        jobBinding(jobId + 1n),
        jobBinding(jobId, PROMPT, OTHER_MODEL),
      ]) {
        const { chunks } = await prove(binding, tokens);
        await a.revertWithCustomErrorWithArgs(
          sys.proofs.write.submitJobProof([jobId, PROMPT, toChunkArgs(chunks)], {
            account: sys.host.account,
          }),
          sys.proofs,
          "ProofSystemInvalidProof",
          [0n],
        );
      }
      // The request hash given is part of the binding: the proof for otherRequest passes with it.
      const { chunks } = await prove(jobBinding(jobId, otherRequest), tokens);
      await sys.proofs.write.submitJobProof([jobId, otherRequest, toChunkArgs(chunks)], {
        account: sys.host.account,
      });
    });

    it("refuses a count other than the job's tokensUsed, and a changed count or commitment", async () => {
      const jobId = await completedJob(6);
      await a.revertWithCustomErrorWithArgs(
        submitJob(jobId, output(5)),
        sys.proofs,
        "ProofSystemCountMismatch",
        [Work.Job, jobId, 5n, 6n],
      );
      await a.revertWithCustomErrorWithArgs(
        submitJob(jobId, output(7)),
        sys.proofs,
        "ProofSystemCountMismatch",
        [Work.Job, jobId, 7n, 6n],
      );
      const { chunks } = await prove(jobBinding(jobId), output(5));
      const [chunk] = toChunkArgs(chunks);
      assert.ok(chunk);
      // Claiming 6 with a proof of 5: the proof does not verify for count 6.
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.submitJobProof([jobId, PROMPT, [{ ...chunk, count: 6 }]], {
          account: sys.host.account,
        }),
        sys.proofs,
        "ProofSystemInvalidProof",
        [0n],
      );
      const right = toChunkArgs((await prove(jobBinding(jobId), output(6))).chunks)[0];
      assert.ok(right);
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.submitJobProof(
          [jobId, PROMPT, [{ ...right, commitment: right.commitment + 1n }]],
          {
            account: sys.host.account,
          },
        ),
        sys.proofs,
        "ProofSystemInvalidProof",
        [0n],
      );
      // Malformed proof bytes are refused the same way.
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.submitJobProof([jobId, PROMPT, [{ ...right, proof: "0x1234" }]], {
          account: sys.host.account,
        }),
        sys.proofs,
        "ProofSystemInvalidProof",
        [0n],
      );
      await submitJob(jobId, output(6));
    });

    it("refuses chunks out of the canonical cut, no chunks, other callers, unfinished jobs and unverifiable models", async () => {
      const jobId = await completedJob(70);
      const chunks = toChunkArgs((await prove(jobBinding(jobId), output(70))).chunks);
      const [full, last] = chunks;
      assert.ok(full && last);
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.submitJobProof([jobId, PROMPT, [last, full]], {
          account: sys.host.account,
        }),
        sys.proofs,
        "ProofSystemInvalidChunk",
        [0n, 6n],
      );
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.submitJobProof([jobId, PROMPT, [full, { ...last, count: 0 }]], {
          account: sys.host.account,
        }),
        sys.proofs,
        "ProofSystemInvalidChunk",
        [1n, 0n],
      );
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.submitJobProof([jobId, PROMPT, [full, { ...last, count: 65 }]], {
          account: sys.host.account,
        }),
        sys.proofs,
        "ProofSystemInvalidChunk",
        [1n, 65n],
      );
      await a.revertWithCustomError(
        sys.proofs.write.submitJobProof([jobId, PROMPT, []], { account: sys.host.account }),
        sys.proofs,
        "ProofSystemNoChunks",
      );
      for (const who of [sys.renter, sys.other, sys.host2]) {
        await a.revertWithCustomErrorWithArgs(
          sys.proofs.write.submitJobProof([jobId, PROMPT, chunks], { account: who.account }),
          sys.proofs,
          "ProofSystemNotHost",
          [Work.Job, jobId, addr(who)],
        );
      }
      const { jobId: claimed } = await postJob(sys);
      await sys.marketplace.write.claimJob([claimed], { account: sys.host.account });
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.submitJobProof([claimed, PROMPT, chunks], { account: sys.host.account }),
        sys.proofs,
        "ProofSystemInvalidJobState",
        [claimed, JobStatus.Claimed],
      );
      await sys.proofs.write.setDefaultVerifier([zeroAddress]);
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.submitJobProof([jobId, PROMPT, chunks], { account: sys.host.account }),
        sys.proofs,
        "ProofSystemNoVerifier",
        [MODEL],
      );
      const noTokens = await completedJob(0);
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.submitJobProof([noTokens, PROMPT, chunks], { account: sys.host.account }),
        sys.proofs,
        "ProofSystemNothingToProve",
        [Work.Job, noTokens],
      );
    });

    it("verifies a batch of 10 chunks (640 tokens) in one transaction: gas per proof", async (t) => {
      const single = await completedJob(64);
      const singleGas = await gasOf(submitJob(single, output(64, 2)));
      const jobId = await completedJob(640);
      const tokens = output(640, 3);
      const batchGas = await gasOf(submitJob(jobId, tokens));
      const record = await sys.proofs.read.recordOf([Work.Job, jobId]);
      assert.deepEqual([record.tokens, record.chunks], [640, 10]);
      assert.equal(record.commitment, outputCommitment(jobBinding(jobId), tokens));
      const perProof = batchGas / 10n;
      t.diagnostic(`submitJobProof, 1 chunk: ${singleGas} gas`);
      t.diagnostic(`submitJobProof, 10 chunks: ${batchGas} gas, ${perProof} gas per proof`);
      t.diagnostic(`marginal chunk: ${(batchGas - singleGas) / 9n} gas`);
      // A batch amortizes the fixed cost (job read, storage, event): each proof costs less in it.
      assert.ok(perProof < singleGas, `${perProof} < ${singleGas}`);
    });
  });

  describe("session proofs", () => {
    it("binds to the session's terms and extends the chain from the last proven commitment", async () => {
      const { sessionId, terms } = await checkpointedSession(70);
      const binding = sessionBinding(sessionId, terms);
      assert.equal(
        await sys.proofs.read.bindingOf([Work.Session, sessionId, terms.modelId, termsHash(terms)]),
        binding,
      );
      const first = output(70, 4);
      const p1 = await prove(binding, first);
      await a.emitWithArgs(
        sys.proofs.write.submitSessionProof([terms, sessionId, toChunkArgs(p1.chunks)], {
          account: sys.host.account,
        }),
        sys.proofs,
        "OutputProven",
        [
          Work.Session,
          sessionId,
          addr(sys.host),
          MODEL,
          termsHash(terms),
          binding,
          binding,
          p1.commitment,
          0n,
          70n,
          2n,
          getAddress(sys.verifier.address),
        ],
      );
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.submitSessionProof([terms, sessionId, toChunkArgs(p1.chunks)], {
          account: sys.host.account,
        }),
        sys.proofs,
        "ProofSystemAlreadyProven",
        [Work.Session, sessionId],
      );
      await checkpoint(sessionId, terms, 100);
      const second = output(30, 5);
      // A chain restarted from the binding is refused: the later proof must start where the last ended.
      const restarted = await prove(binding, second);
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.submitSessionProof([terms, sessionId, toChunkArgs(restarted.chunks)], {
          account: sys.host.account,
        }),
        sys.proofs,
        "ProofSystemInvalidProof",
        [0n],
      );
      const p2 = await prove(binding, second, p1.commitment);
      await a.emitWithArgs(
        sys.proofs.write.submitSessionProof([terms, sessionId, toChunkArgs(p2.chunks)], {
          account: sys.host.account,
        }),
        sys.proofs,
        "OutputProven",
        [
          Work.Session,
          sessionId,
          addr(sys.host),
          MODEL,
          termsHash(terms),
          binding,
          p1.commitment,
          p2.commitment,
          70n,
          100n,
          1n,
          getAddress(sys.verifier.address),
        ],
      );
      const record = await sys.proofs.read.recordOf([Work.Session, sessionId]);
      assert.equal(record.commitment, outputCommitment(p1.commitment, second));
      assert.deepEqual([record.tokens, record.chunks, record.proofs], [100, 3, 2]);
    });

    it("refuses wrong terms, unknown sessions, other callers and a count other than the checkpointed tokens", async () => {
      const { sessionId, terms } = await checkpointedSession(5);
      const { chunks } = await prove(sessionBinding(sessionId, terms), output(5));
      const args = toChunkArgs(chunks);
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.submitSessionProof([{ ...terms, pricePerToken: 1n }, sessionId, args], {
          account: sys.host.account,
        }),
        sys.proofs,
        "ProofSystemWrongTerms",
        [sessionId],
      );
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.submitSessionProof([terms, 99n, args], { account: sys.host.account }),
        sys.proofs,
        "ProofSystemUnknownWork",
        [Work.Session, 99n],
      );
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.submitSessionProof([terms, sessionId, args], {
          account: sys.renter.account,
        }),
        sys.proofs,
        "ProofSystemNotHost",
        [Work.Session, sessionId, addr(sys.renter)],
      );
      await checkpoint(sessionId, terms, 6);
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.submitSessionProof([terms, sessionId, args], {
          account: sys.host.account,
        }),
        sys.proofs,
        "ProofSystemCountMismatch",
        [Work.Session, sessionId, 5n, 6n],
      );
      const six = await prove(sessionBinding(sessionId, terms), output(6));
      await sys.proofs.write.submitSessionProof([terms, sessionId, toChunkArgs(six.chunks)], {
        account: sys.host.account,
      });
    });
  });

  describe("count challenges (economic)", () => {
    it("a challenge answered by a valid proof in time loses its ETH bond to the host", async () => {
      const jobId = await completedJob(70);
      const payment = 70n * HOST_PRICE;
      const bond = payment / 10n;
      assert.deepEqual(await sys.proofs.read.challengeBondOfJob([jobId]), [ETH, bond]);
      const block = await sys.publicClient.getBlock();
      const open = sys.proofs.write.challengeJobCount([jobId], {
        account: sys.challenger.account,
        value: bond,
      });
      await a.emitWithArgs(open, sys.proofs, "CountChallengeOpened", [
        1n,
        Work.Job,
        jobId,
        addr(sys.challenger),
        addr(sys.host),
        MODEL,
        ETH,
        bond,
        70n,
        block.timestamp + 1n + DAY,
      ]);
      await a.emitWithArgs(open, sys.escrow, "FundsLocked", [
        1n | BOND_ID,
        addr(sys.challenger),
        ETH,
        getAddress(sys.proofs.address),
        bond,
      ]);
      assert.deepEqual(await sys.proofs.read.bondOf([1n]), [ETH, bond]);
      const c = await sys.proofs.read.challengeOf([1n]);
      assert.deepEqual(
        [c.kind, c.work, c.status, c.id, c.tokens, c.challenger, c.host],
        [Kind.Count, Work.Job, Status.Open, jobId, 70, addr(sys.challenger), addr(sys.host)],
      );
      assert.equal((await sys.proofs.read.recordOf([Work.Job, jobId])).openCountChallenge, 1n);
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.challengeJobCount([jobId], { account: sys.renter.account, value: bond }),
        sys.proofs,
        "ProofSystemCountChallengeOpen",
        [Work.Job, jobId, 1n],
      );
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.resolveCountChallenge([1n]),
        sys.proofs,
        "ProofSystemResponseWindowOpen",
        [1n, c.deadline],
      );
      const hostBefore = await escrowBalance(sys.host);
      const answer = submitJob(jobId, output(70));
      await a.emitWithArgs(answer, sys.proofs, "ChallengeResolved", [
        1n,
        Status.Answered,
        addr(sys.host),
        bond,
        0n,
      ]);
      await a.emitWithArgs(answer, sys.escrow, "FundsRefunded", [
        1n | BOND_ID,
        addr(sys.host),
        ETH,
        getAddress(sys.proofs.address),
        bond,
      ]);
      assert.equal(await escrowBalance(sys.host), hostBefore + bond);
      assert.deepEqual(await sys.proofs.read.bondOf([1n]), [zeroAddress, 0n]);
      assert.equal((await sys.proofs.read.challengeOf([1n])).status, Status.Answered);
      assert.equal((await sys.proofs.read.recordOf([Work.Job, jobId])).openCountChallenge, 0n);
      assert.equal(await sys.recorder.read.offences(), 0n);
      // A proven job cannot be count-challenged again.
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.challengeJobCount([jobId], {
          account: sys.challenger.account,
          value: bond,
        }),
        sys.proofs,
        "ProofSystemAlreadyProven",
        [Work.Job, jobId],
      );
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.resolveCountChallenge([1n]),
        sys.proofs,
        "ProofSystemInvalidChallenge",
        [1n, Kind.Count, Status.Answered],
      );
    });

    it("an unanswered challenge slashes the host and returns the bond (anyone resolves after the deadline); a late proof does not answer", async (t) => {
      const jobId = await completedJob(5);
      const bond = (5n * HOST_PRICE) / 10n;
      const openGas = await gasOf(
        sys.proofs.write.challengeJobCount([jobId], {
          account: sys.challenger.account,
          value: bond,
        }),
      );
      t.diagnostic(`challengeJobCount (ETH bond): ${openGas} gas`);
      const { deadline } = await sys.proofs.read.challengeOf([1n]);
      await time.increaseTo(deadline + 1n);
      // The proof comes too late: it is stored, but the challenge stays open for resolution.
      await submitJob(jobId, output(5));
      assert.equal((await sys.proofs.read.challengeOf([1n])).status, Status.Open);
      const before = await escrowBalance(sys.challenger);
      const resolve = sys.proofs.write.resolveCountChallenge([1n], { account: sys.renter.account });
      await a.emitWithArgs(resolve, sys.proofs, "ChallengeResolved", [
        1n,
        Status.Unanswered,
        addr(sys.challenger),
        bond,
        100n * 10n ** 18n,
      ]);
      await a.emitWithArgs(resolve, sys.recorder, "OffenceRecorded", [
        2,
        addr(sys.host),
        addr(sys.challenger),
        encodeAbiParameters([{ type: "uint256" }], [1n]),
        100n * 10n ** 18n,
      ]);
      t.diagnostic(
        `resolveCountChallenge (unanswered, slash recorded by the double): ${await gasOf(resolve)} gas`,
      );
      assert.equal(await escrowBalance(sys.challenger), before + bond);
      const record = await sys.proofs.read.recordOf([Work.Job, jobId]);
      assert.equal(record.countChallengeLost, true);
      assert.equal(record.openCountChallenge, 0n);
      // The bond is a pull payment: the challenger withdraws it.
      await a.balancesHaveChanged(
        sys.escrow.write.withdraw([ETH, bond, sys.challenger.account.address], {
          account: sys.challenger.account,
        }),
        [{ address: sys.challenger.account.address, amount: bond }],
      );
    });

    it("a host that lost a count challenge of a work is not challenged again for it", async () => {
      const jobId = await completedJob(5);
      const bond = (5n * HOST_PRICE) / 10n;
      await sys.proofs.write.challengeJobCount([jobId], {
        account: sys.challenger.account,
        value: bond,
      });
      await time.increase(Number(DAY) + 1);
      await sys.proofs.write.resolveCountChallenge([1n]);
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.challengeJobCount([jobId], { account: sys.renter.account, value: bond }),
        sys.proofs,
        "ProofSystemCountChallengeLost",
        [Work.Job, jobId],
      );
    });

    it("takes the bond in the job's ERC-20, at least the token's minimum bond", async () => {
      const jobId = await completedJob(70, sys.usd.address);
      const payment = 70n * USD_PRICE;
      assert.deepEqual(await sys.proofs.read.challengeBondOfJob([jobId]), [
        getAddress(sys.usd.address),
        payment / 10n,
      ]);
      await sys.proofs.write.setMinBond([sys.usd.address, USD]);
      assert.deepEqual(await sys.proofs.read.challengeBondOfJob([jobId]), [
        getAddress(sys.usd.address),
        USD,
      ]);
      // An ERC-20 bond takes no ETH.
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.challengeJobCount([jobId], { account: sys.challenger.account, value: 1n }),
        sys.escrow,
        "PaymentEscrowValueMismatch",
        [0n, 1n],
      );
      const wallet = await sys.usd.read.balanceOf([sys.challenger.account.address]);
      await sys.proofs.write.challengeJobCount([jobId], { account: sys.challenger.account });
      assert.equal(await sys.usd.read.balanceOf([sys.challenger.account.address]), wallet - USD);
      assert.deepEqual(await sys.proofs.read.bondOf([1n]), [getAddress(sys.usd.address), USD]);
      await time.increase(Number(DAY) + 1);
      await sys.proofs.write.resolveCountChallenge([1n]);
      assert.equal(await escrowBalance(sys.challenger, sys.usd.address), USD);
      await sys.escrow.write.withdraw([sys.usd.address, USD, sys.challenger.account.address], {
        account: sys.challenger.account,
      });
      assert.equal(await sys.usd.read.balanceOf([sys.challenger.account.address]), wallet);
    });

    it("challenges a session's checkpointed count; the host answers by extending its chain", async () => {
      const { sessionId, terms } = await checkpointedSession(70, sys.usd.address);
      const bond = (70n * USD_PRICE) / 10n;
      assert.deepEqual(await sys.proofs.read.challengeBondOfSession([terms, sessionId]), [
        getAddress(sys.usd.address),
        bond,
      ]);
      await a.emitWithArgs(
        sys.proofs.write.challengeSessionCount([terms, sessionId], {
          account: sys.challenger.account,
        }),
        sys.proofs,
        "CountChallengeOpened",
        [
          1n,
          Work.Session,
          sessionId,
          addr(sys.challenger),
          addr(sys.host),
          MODEL,
          getAddress(sys.usd.address),
          bond,
          70n,
          (await sys.publicClient.getBlock()).timestamp + 1n + DAY,
        ],
      );
      // More tokens checkpointed meanwhile: the answer proves up to the session's count now.
      await checkpoint(sessionId, terms, 80);
      const { chunks } = await prove(sessionBinding(sessionId, terms), output(80, 6));
      await a.emitWithArgs(
        sys.proofs.write.submitSessionProof([terms, sessionId, toChunkArgs(chunks)], {
          account: sys.host.account,
        }),
        sys.proofs,
        "ChallengeResolved",
        [1n, Status.Answered, addr(sys.host), bond, 0n],
      );
      assert.equal((await escrowBalance(sys.host, sys.usd.address)) >= bond, true);
      // Proven up to 80: a challenge needs tokens beyond what is proven.
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.challengeSessionCount([terms, sessionId], {
          account: sys.challenger.account,
        }),
        sys.proofs,
        "ProofSystemAlreadyProven",
        [Work.Session, sessionId],
      );
      await checkpoint(sessionId, terms, 81);
      await sys.proofs.write.challengeSessionCount([terms, sessionId], {
        account: sys.challenger.account,
      });
      assert.equal((await sys.proofs.read.challengeOf([2n])).tokens, 81);
    });

    it("refuses challenges out of the window, by the host, of nothing, without a verifier or without a bond", async () => {
      const jobId = await completedJob(5);
      const bond = (5n * HOST_PRICE) / 10n;
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.challengeJobCount([jobId], { account: sys.host.account, value: bond }),
        sys.proofs,
        "ProofSystemSelfChallenge",
        [addr(sys.host)],
      );
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.challengeJobCount([jobId], {
          account: sys.challenger.account,
          value: bond - 1n,
        }),
        sys.escrow,
        "PaymentEscrowValueMismatch",
        [bond, bond - 1n],
      );
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.challengeJobCount([99n], { account: sys.challenger.account, value: bond }),
        sys.proofs,
        "ProofSystemUnknownWork",
        [Work.Job, 99n],
      );
      const { jobId: posted } = await postJob(sys);
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.challengeJobCount([posted], {
          account: sys.challenger.account,
          value: bond,
        }),
        sys.proofs,
        "ProofSystemInvalidJobState",
        [posted, 1],
      );
      const empty = await completedJob(0);
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.challengeJobCount([empty], {
          account: sys.challenger.account,
          value: bond,
        }),
        sys.proofs,
        "ProofSystemNothingToChallenge",
        [Work.Job, empty],
      );
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.challengeJobOutput([empty, EVIDENCE], {
          account: sys.challenger.account,
          value: bond,
        }),
        sys.proofs,
        "ProofSystemNothingToChallenge",
        [Work.Job, empty],
      );
      await sys.proofs.write.setBondBps([0]);
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.challengeJobCount([jobId], { account: sys.challenger.account }),
        sys.proofs,
        "ProofSystemNoBond",
        [ETH],
      );
      await sys.proofs.write.setBondBps([1_000]);
      await sys.proofs.write.setDefaultVerifier([zeroAddress]);
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.challengeJobCount([jobId], {
          account: sys.challenger.account,
          value: bond,
        }),
        sys.proofs,
        "ProofSystemNoVerifier",
        [MODEL],
      );
      await sys.proofs.write.setDefaultVerifier([sys.verifier.address]);
      // The window: the job's dispute window end (its timeout) plus jobChallengeWindow.
      const [job] = await sys.marketplace.read.getJob([jobId]);
      const closesAt = BigInt(job.timeout) + 3n * DAY;
      await time.increaseTo(closesAt + 1n);
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.challengeJobCount([jobId], {
          account: sys.challenger.account,
          value: bond,
        }),
        sys.proofs,
        "ProofSystemChallengeWindowClosed",
        [Work.Job, jobId, closesAt],
      );
      const { sessionId, terms } = await checkpointedSession(5);
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.challengeSessionCount([{ ...terms, expiry: 1n }, sessionId], {
          account: sys.challenger.account,
        }),
        sys.proofs,
        "ProofSystemWrongTerms",
        [sessionId],
      );
      const sessionCloses = terms.expiry + 3n * DAY;
      await time.increaseTo(sessionCloses + 1n);
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.challengeSessionCount([terms, sessionId], {
          account: sys.challenger.account,
          value: 1n,
        }),
        sys.proofs,
        "ProofSystemChallengeWindowClosed",
        [Work.Session, sessionId, sessionCloses],
      );
    });

    it("is void (bond returned, nobody slashed) when the model lost every verifier before the deadline", async () => {
      const jobId = await completedJob(5);
      const bond = (5n * HOST_PRICE) / 10n;
      await sys.proofs.write.challengeJobCount([jobId], {
        account: sys.challenger.account,
        value: bond,
      });
      await sys.proofs.write.setDefaultVerifier([zeroAddress]);
      await time.increase(Number(DAY) + 1);
      await a.emitWithArgs(
        sys.proofs.write.resolveCountChallenge([1n]),
        sys.proofs,
        "ChallengeResolved",
        [1n, Status.Voided, addr(sys.challenger), bond, 0n],
      );
      assert.equal(await sys.recorder.read.offences(), 0n);
      assert.equal((await sys.proofs.read.recordOf([Work.Job, jobId])).countChallengeLost, false);
    });

    it("ends even when the reputation system refuses, spends all its gas, or is unset", async () => {
      const bond = (5n * HOST_PRICE) / 10n;
      const open = async () => {
        const jobId = await completedJob(5);
        const id = await sys.proofs.read.nextChallengeId();
        await sys.proofs.write.challengeJobCount([jobId], {
          account: sys.challenger.account,
          value: bond,
        });
        return id;
      };
      const refused = await open();
      const burnt = await open();
      const unset = await open();
      await time.increase(Number(DAY) + 1);
      await sys.recorder.write.setMode([1]);
      const r1 = sys.proofs.write.resolveCountChallenge([refused]);
      await a.emit(r1, sys.proofs, "OffenceNotRecorded");
      await a.emitWithArgs(r1, sys.proofs, "ChallengeResolved", [
        refused,
        Status.Unanswered,
        addr(sys.challenger),
        bond,
        0n,
      ]);
      await sys.recorder.write.setMode([2]);
      // Too little gas for the reputation system's share: refused, so a caller cannot skip the slash.
      await a.revertWithCustomError(
        sys.proofs.write.resolveCountChallenge([burnt], { gas: 500_000n }),
        sys.proofs,
        "ProofSystemInsufficientGas",
      );
      const r2 = sys.proofs.write.resolveCountChallenge([burnt], { gas: 2_000_000n });
      await a.emitWithArgs(r2, sys.proofs, "OffenceNotRecorded", [burnt, addr(sys.host), "0x"]);
      assert.equal((await sys.proofs.read.challengeOf([burnt])).status, Status.Unanswered);
      await sys.proofs.write.setReputation([zeroAddress]);
      await a.emitWithArgs(
        sys.proofs.write.resolveCountChallenge([unset]),
        sys.proofs,
        "ChallengeResolved",
        [unset, Status.Unanswered, addr(sys.challenger), bond, 0n],
      );
      assert.equal(await sys.recorder.read.offences(), 0n);
      assert.equal(await escrowBalance(sys.challenger), 3n * bond);
    });

    it("slashes the host's FAB stake through the real ReputationSystem (RECORDER_ROLE granted)", async (t) => {
      await sys.proofs.write.setReputation([sys.reputation.address]);
      await sys.reputation.write.setRecorder([sys.proofs.address, true]);
      const stakeBefore = await sys.fab.read.balanceOf([sys.registry.address]);
      const jobId = await completedJob(5);
      await sys.proofs.write.challengeJobCount([jobId], {
        account: sys.challenger.account,
        value: (5n * HOST_PRICE) / 10n,
      });
      await time.increase(Number(DAY) + 1);
      const hash = await sys.proofs.write.resolveCountChallenge([1n]);
      await a.emit(Promise.resolve(hash), sys.reputation, "OffenceRecorded");
      const receipt = await sys.publicClient.waitForTransactionReceipt({ hash });
      const [resolved] = parseEventLogs({
        abi: sys.proofs.abi,
        eventName: "ChallengeResolved",
        logs: receipt.logs,
      });
      assert.ok(resolved && resolved.args.slashed > 0n, "a staked host is slashed");
      const gas = receipt.gasUsed;
      t.diagnostic(`resolveCountChallenge (unanswered, real ReputationSystem slash): ${gas} gas`);
      assert.ok((await sys.fab.read.balanceOf([sys.registry.address])) < stakeBefore);
      assert.ok(gas < 1_500_000n);
    });
  });

  describe("output challenges (economic)", () => {
    it("upheld by an arbiter: the host is slashed and the ETH bond returned", async (t) => {
      const jobId = await completedJob(70);
      const bond = (70n * HOST_PRICE) / 10n;
      await a.revertWithCustomError(
        sys.proofs.write.challengeJobOutput([jobId, zeroHash], {
          account: sys.challenger.account,
          value: bond,
        }),
        sys.proofs,
        "ProofSystemNoEvidence",
      );
      const block = await sys.publicClient.getBlock();
      const opened = sys.proofs.write.challengeJobOutput([jobId, EVIDENCE], {
        account: sys.challenger.account,
        value: bond,
      });
      t.diagnostic(`challengeJobOutput (ETH bond): ${await gasOf(opened)} gas`);
      await a.emitWithArgs(opened, sys.proofs, "OutputChallengeOpened", [
        1n,
        Work.Job,
        jobId,
        addr(sys.challenger),
        addr(sys.host),
        MODEL,
        ETH,
        bond,
        70n,
        EVIDENCE,
        block.timestamp + 1n + 7n * DAY,
      ]);
      const c = await sys.proofs.read.challengeOf([1n]);
      assert.deepEqual([c.kind, c.status, c.evidenceHash], [Kind.Output, Status.Open, EVIDENCE]);
      // A proven count does not end an output challenge, nor does resolveCountChallenge.
      await submitJob(jobId, output(70));
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.resolveCountChallenge([1n]),
        sys.proofs,
        "ProofSystemInvalidChallenge",
        [1n, Kind.Output, Status.Open],
      );
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.resolveOutputChallenge([1n, true], { account: sys.other.account }),
        sys.proofs,
        "AccessControlUnauthorizedAccount",
        [addr(sys.other), role("ARBITER_ROLE")],
      );
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.settleOutputChallenge([1n]),
        sys.proofs,
        "ProofSystemArbitrationOpen",
        [1n, c.deadline],
      );
      const upheld = sys.proofs.write.resolveOutputChallenge([1n, true]);
      t.diagnostic(
        `resolveOutputChallenge (upheld, slash recorded by the double): ${await gasOf(upheld)} gas`,
      );
      await a.emitWithArgs(upheld, sys.proofs, "ChallengeResolved", [
        1n,
        Status.Upheld,
        addr(sys.challenger),
        bond,
        100n * 10n ** 18n,
      ]);
      await a.emit(upheld, sys.recorder, "OffenceRecorded");
      assert.equal(await escrowBalance(sys.challenger), bond);
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.resolveOutputChallenge([1n, false]),
        sys.proofs,
        "ProofSystemInvalidChallenge",
        [1n, Kind.Output, Status.Upheld],
      );
    });

    it("rejected by an arbiter: the ERC-20 bond goes to the host, nobody is slashed", async () => {
      const { sessionId, terms } = await checkpointedSession(70, sys.usd.address);
      const bond = (70n * USD_PRICE) / 10n;
      await sys.proofs.write.challengeSessionOutput([terms, sessionId, EVIDENCE], {
        account: sys.challenger.account,
      });
      assert.deepEqual(await sys.proofs.read.bondOf([1n]), [getAddress(sys.usd.address), bond]);
      const hostBefore = await escrowBalance(sys.host, sys.usd.address);
      await a.emitWithArgs(
        sys.proofs.write.resolveOutputChallenge([1n, false]),
        sys.proofs,
        "ChallengeResolved",
        [1n, Status.Rejected, addr(sys.host), bond, 0n],
      );
      assert.equal(await escrowBalance(sys.host, sys.usd.address), hostBefore + bond);
      assert.equal(await sys.recorder.read.offences(), 0n);
    });

    it("undecided by the deadline: anyone settles with the default (bond returned, no slash); the arbiter is too late", async () => {
      const jobId = await completedJob(5);
      const bond = (5n * HOST_PRICE) / 10n;
      await sys.proofs.write.challengeJobOutput([jobId, EVIDENCE], {
        account: sys.challenger.account,
        value: bond,
      });
      const { deadline } = await sys.proofs.read.challengeOf([1n]);
      await time.increaseTo(deadline + 1n);
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.resolveOutputChallenge([1n, true]),
        sys.proofs,
        "ProofSystemArbitrationClosed",
        [1n, deadline],
      );
      await a.emitWithArgs(
        sys.proofs.write.settleOutputChallenge([1n], { account: sys.renter.account }),
        sys.proofs,
        "ChallengeResolved",
        [1n, Status.Unarbitrated, addr(sys.challenger), bond, 0n],
      );
      assert.equal(await escrowBalance(sys.challenger), bond);
      assert.equal(await sys.recorder.read.offences(), 0n);
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.settleOutputChallenge([1n]),
        sys.proofs,
        "ProofSystemInvalidChallenge",
        [1n, Kind.Output, Status.Unarbitrated],
      );
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.settleOutputChallenge([9n]),
        sys.proofs,
        "ProofSystemInvalidChallenge",
        [9n, Kind.Count, Status.None],
      );
    });

    it("several output challenges of one work run side by side, each with its own bond", async () => {
      const jobId = await completedJob(5);
      const bond = (5n * HOST_PRICE) / 10n;
      await sys.proofs.write.challengeJobOutput([jobId, EVIDENCE], {
        account: sys.challenger.account,
        value: bond,
      });
      await sys.proofs.write.challengeJobOutput([jobId, keccak256(EVIDENCE)], {
        account: sys.renter.account,
        value: bond,
      });
      await sys.proofs.write.challengeJobCount([jobId], {
        account: sys.renter.account,
        value: bond,
      });
      await sys.proofs.write.resolveOutputChallenge([2n, true]);
      await sys.proofs.write.resolveOutputChallenge([1n, false]);
      assert.deepEqual(
        await Promise.all(
          [1n, 2n, 3n].map(async (id) => (await sys.proofs.read.challengeOf([id])).status),
        ),
        [Status.Rejected, Status.Upheld, Status.Open],
      );
    });
  });

  describe("upgrades", () => {
    it("upgrades to ProofSystemV2 (UPGRADER_ROLE only) with records, challenges, verifiers and settings intact", async () => {
      const jobId = await completedJob(5);
      await submitJob(jobId, output(5));
      const open = await completedJob(6);
      await sys.proofs.write.challengeJobCount([open], {
        account: sys.challenger.account,
        value: (6n * HOST_PRICE) / 10n,
      });
      const own = await viem.deployContract("OutputCountVerifier");
      await sys.proofs.write.setVerifier([OTHER_MODEL, own.address]);
      await sys.proofs.write.setMinBond([sys.usd.address, 7n]);
      const before = {
        record: await sys.proofs.read.recordOf([Work.Job, jobId]),
        challenge: await sys.proofs.read.challengeOf([1n]),
        verifier: await sys.proofs.read.verifierOf([OTHER_MODEL]),
        windows: await sys.proofs.read.windows(),
        next: await sys.proofs.read.nextChallengeId(),
      };
      const v2 = await viem.deployContract("ProofSystemV2", [
        sys.marketplace.address,
        sys.sessions.address,
        sys.escrow.address,
      ]);
      await a.revertWithCustomErrorWithArgs(
        sys.proofs.write.upgradeToAndCall([v2.address, "0x"], { account: sys.other.account }),
        sys.proofs,
        "AccessControlUnauthorizedAccount",
        [addr(sys.other), role("UPGRADER_ROLE")],
      );
      await sys.proofs.write.upgradeToAndCall([v2.address, "0x"]);
      assert.equal(await implementationOf(sys, sys.proofs.address), getAddress(v2.address));
      const upgraded = await viem.getContractAt("ProofSystemV2", sys.proofs.address);
      assert.equal(await upgraded.read.version(), "2");
      assert.deepEqual(await upgraded.read.recordOf([Work.Job, jobId]), before.record);
      assert.deepEqual(await upgraded.read.challengeOf([1n]), before.challenge);
      assert.deepEqual(await upgraded.read.verifierOf([OTHER_MODEL]), before.verifier);
      assert.deepEqual(await upgraded.read.windows(), before.windows);
      assert.equal(await upgraded.read.nextChallengeId(), before.next);
      assert.equal(await upgraded.read.minBond([sys.usd.address]), 7n);
      // The open challenge carries on after the upgrade: the host answers it.
      const { chunks } = await prove(jobBinding(open), output(6));
      await a.emitWithArgs(
        upgraded.write.submitJobProof([open, PROMPT, toChunkArgs(chunks)], {
          account: sys.host.account,
        }),
        upgraded,
        "ChallengeResolved",
        [1n, Status.Answered, addr(sys.host), (6n * HOST_PRICE) / 10n, 0n],
      );
    });
  });
});
