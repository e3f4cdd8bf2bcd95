/**
 * Prints the gas of each step of the job lifecycle, of the session lifecycle and of the trust
 * layer (proofs, challenges, slashes, ratings, disputes) and of governance and tokenomics
 * (a proposal's life, the stakers pool, a buyback) and of the model catalog, each step its own transaction (so all
 * storage it touches is cold), on Hardhat's in-process chain. Sessions and the trust layer are
 * measured on fresh chains of their own, so their first figures start from empty storage. The
 * proofs are real Groth16 proofs of the project's circuit (a few seconds each to make).
 * Run: npm run gas
 */
import { network } from "hardhat";
import type { Hash } from "viem";
import { keccak256, parseEther, stringToHex, zeroAddress } from "viem";
import { action, deployGoverned, proposalArgs, VOTE } from "../fixtures/governance.ts";
import { openSession, receiptFor, sessionRequest, signReceipt } from "../fixtures/sessions.ts";
import {
  deploySystem,
  FAB,
  jobRequest,
  MODEL,
  OUTPUT,
  PROMPT,
  registration,
  USD,
} from "../fixtures/system.ts";
import { uniswapV2RouterAbi } from "../fixtures/uniswap.ts";
import {
  bindingOf,
  disposeProver,
  ProofWork,
  proveOutput,
  toChunkArgs,
} from "../protocol/proofs.ts";
import type { SessionTerms } from "../protocol/sessions.ts";

const connection = await network.create();
const sys = await deploySystem(connection);
const { renter, host, host2, marketplace, registry, publicClient, usd, networkHelpers } = {
  ...sys,
  networkHelpers: connection.networkHelpers,
};

async function gas(hash: Promise<Hash>): Promise<bigint> {
  const receipt = await publicClient.waitForTransactionReceipt({ hash: await hash });
  if (receipt.status !== "success") throw new Error("transaction reverted");
  return receipt.gasUsed;
}

const rows: [string, bigint][] = [];
const offers = [
  {
    modelId: MODEL,
    token: "0x0000000000000000000000000000000000000000" as const,
    pricePerToken: parseEther("0.000001"),
  },
  { modelId: MODEL, token: usd.address, pricePerToken: 1n },
];
rows.push([
  "register (1 model, 2 tokens)",
  await gas(registry.write.register([registration({ offers })], { account: host.account })),
]);
await registry.write.register([registration({ offers })], { account: host2.account });
// Context lengths: the first value of a (host, model) writes a fresh slot; a change updates it.
rows.push([
  "setModelContexts (1 model), first",
  await gas(
    registry.write.setModelContexts([[{ modelId: MODEL, contextLength: 8_192 }]], {
      account: host.account,
    }),
  ),
]);
rows.push([
  "setModelContexts (1 model), update",
  await gas(
    registry.write.setModelContexts([[{ modelId: MODEL, contextLength: 4_096 }]], {
      account: host.account,
    }),
  ),
]);

async function ethJob(): Promise<bigint[]> {
  const r = await jobRequest(sys);
  const id = await marketplace.read.nextJobId();
  const who = host;
  const steps = [
    await gas(
      marketplace.write.postJob([r], {
        account: renter.account,
        value: BigInt(r.maxTokens) * r.maxPricePerToken,
      }),
    ),
    await gas(marketplace.write.claimJob([id], { account: who.account })),
    await gas(marketplace.write.completeJob([id, OUTPUT, 700], { account: who.account })),
    await gas(marketplace.write.acceptJob([id], { account: renter.account })),
  ];
  return steps;
}

// First job ever: registers the (model, ETH) offer; every balance and counter goes from zero.
const first = await ethJob();
// A later job: the host, renter, fee and counter slots already hold a value.
const steady = await ethJob();
const names = ["post (ETH)", "claim", "complete", "accept"];
names.forEach((n, i) => {
  rows.push([`${n}, first job`, first[i] ?? 0n]);
});
names.forEach((n, i) => {
  rows.push([`${n}, steady state`, steady[i] ?? 0n]);
});

const usdReq = await jobRequest(sys, { token: usd.address, maxPricePerToken: 2n });
rows.push([
  "post (ERC-20), first job for the token (registers the offer)",
  await gas(marketplace.write.postJob([usdReq], { account: renter.account })),
]);
rows.push([
  "post (ERC-20), steady state",
  await gas(marketplace.write.postJob([usdReq], { account: renter.account })),
]);

// Auto-release after the dispute window.
{
  const r = await jobRequest(sys);
  const id = await marketplace.read.nextJobId();
  await marketplace.write.postJob([r], {
    account: renter.account,
    value: BigInt(r.maxTokens) * r.maxPricePerToken,
  });
  await marketplace.write.claimJob([id], { account: host.account });
  await marketplace.write.completeJob([id, OUTPUT, 700], { account: host.account });
  await networkHelpers.time.increase(2 * 86_400);
  rows.push([
    "auto-release",
    await gas(marketplace.write.releasePayment([id], { account: host2.account })),
  ]);
}
// Refunds: cancel before a claim, expiry after the deadline, refusal by the host.
{
  const r = await jobRequest(sys);
  const id = await marketplace.read.nextJobId();
  await marketplace.write.postJob([r], {
    account: renter.account,
    value: BigInt(r.maxTokens) * r.maxPricePerToken,
  });
  rows.push([
    "refund: cancel",
    await gas(marketplace.write.cancelJob([id], { account: renter.account })),
  ]);
  const r2 = await jobRequest(sys);
  const id2 = await marketplace.read.nextJobId();
  await marketplace.write.postJob([r2], {
    account: renter.account,
    value: BigInt(r2.maxTokens) * r2.maxPricePerToken,
  });
  await marketplace.write.claimJob([id2], { account: host.account });
  // The host hands a claimed job back before its deadline (renter refunded at once). Measured
  // before the expiry below, whose abandoned-claim slash leaves the host under the minimum stake.
  const r3 = await jobRequest(sys);
  const id3 = await marketplace.read.nextJobId();
  await marketplace.write.postJob([r3], {
    account: renter.account,
    value: BigInt(r3.maxTokens) * r3.maxPricePerToken,
  });
  await marketplace.write.claimJob([id3], { account: host.account });
  const refuse = await gas(
    marketplace.write.refuseJob([id3, stringToHex("prompt_too_long", { size: 32 })], {
      account: host.account,
    }),
  );
  await networkHelpers.time.increase(7_200);
  rows.push([
    "refund: expire (claimed; the abandoned claim slashes the host)",
    await gas(marketplace.write.expireJob([id2], { account: host2.account })),
  ]);
  rows.push(["refund: refuse (claimed)", refuse]);
}

// ---------------------------------------------------------------- sessions

const sessionRows: [string, bigint, bigint | undefined][] = [];
{
  const chain = await network.create();
  const ss = await deploySystem(chain);
  const sGas = async (hash: Hash | Promise<Hash>): Promise<bigint> => {
    const receipt = await ss.publicClient.waitForTransactionReceipt({ hash: await hash });
    if (receipt.status !== "success") throw new Error("transaction reverted");
    return receipt.gasUsed;
  };
  const { sessions } = ss;
  const ethPrice = parseEther("0.000001");
  await ss.registry.write.register(
    [
      registration({
        offers: [
          { modelId: MODEL, token: zeroAddress, pricePerToken: ethPrice },
          { modelId: MODEL, token: ss.usd.address, pricePerToken: 1n },
        ],
      }),
    ],
    { account: ss.host.account },
  );
  const { renter: sRenter, host: sHost } = ss;

  /** Opens a session of 1000 tokens' worth; returns its gas, id and terms (from SessionOpened). */
  const open = async (token: "eth" | "usd") => {
    const request = await sessionRequest(
      ss,
      token === "usd"
        ? { token: ss.usd.address, maxPricePerToken: 1n, deposit: 1_000n }
        : { maxPricePerToken: ethPrice, deposit: 1_000n * ethPrice },
    );
    const { sessionId, terms, hash } = await openSession(ss, request);
    return { used: await sGas(hash), sessionId, terms };
  };
  /** A receipt for `tokens` at the session's price, signed by the renter (EIP-712). */
  const signed = async (id: bigint, terms: SessionTerms, tokens: number) => {
    const receipt = receiptFor(id, terms, tokens);
    return [terms, id, receipt, await signReceipt(sRenter, sessions.address, receipt)] as const;
  };
  const checkpoint = async (id: bigint, terms: SessionTerms, tokens: number) =>
    sGas(sessions.write.checkpoint(await signed(id, terms, tokens), { account: sHost.account }));
  const closeWith = async (id: bigint, terms: SessionTerms, tokens: number) =>
    sGas(sessions.write.closeSession(await signed(id, terms, tokens), { account: sHost.account }));
  const none = { sessionId: 0n, tokens: 0, amount: 0n, digest: keccak256("0x") };

  // The first session ever: the host's escrow balance, the fee accruals and the renter's
  // refund balance all go from zero.
  const firstSession = await open("eth");
  const cp1 = await checkpoint(firstSession.sessionId, firstSession.terms, 100);
  const cp2 = await checkpoint(firstSession.sessionId, firstSession.terms, 200);
  const closeFirst = await closeWith(firstSession.sessionId, firstSession.terms, 300);
  // A later session: every balance and accrual it touches already holds a value.
  const steadySession = await open("eth");
  const topUp = await sGas(
    sessions.write.topUp([steadySession.terms, steadySession.sessionId, 500n * ethPrice], {
      account: sRenter.account,
      value: 500n * ethPrice,
    }),
  );
  const cp3 = await checkpoint(steadySession.sessionId, steadySession.terms, 100);
  const cp4 = await checkpoint(steadySession.sessionId, steadySession.terms, 200);
  const closeSteady = await closeWith(steadySession.sessionId, steadySession.terms, 300);
  const noReceipt = await open("eth");
  await checkpoint(noReceipt.sessionId, noReceipt.terms, 100);
  const closeBare = await sGas(
    sessions.write.closeSession([noReceipt.terms, noReceipt.sessionId, none, "0x"], {
      account: sHost.account,
    }),
  );
  // The renter asks to close; after the host's window anyone settles.
  const asked = await open("eth");
  await checkpoint(asked.sessionId, asked.terms, 100);
  const requestClose = await sGas(
    sessions.write.requestClose([asked.terms, asked.sessionId], { account: sRenter.account }),
  );
  await chain.networkHelpers.time.increase(Number(await sessions.read.closeWindow()));
  const settle = await sGas(
    sessions.write.settle([asked.terms, asked.sessionId], { account: ss.other.account }),
  );
  // A session left to expire: settled by anyone after expiry + window.
  const expired = await open("eth");
  await checkpoint(expired.sessionId, expired.terms, 100);
  await chain.networkHelpers.time.increaseTo(
    expired.terms.expiry + BigInt(await sessions.read.closeWindow()),
  );
  const settleExpired = await sGas(
    sessions.write.settle([expired.terms, expired.sessionId], { account: ss.other.account }),
  );
  // ERC-20: the first deposit of the token into the escrow, then a later one.
  const usdFirst = await open("usd");
  const usdSteady = await open("usd");
  // Opening reads the host's fee discount once; with the stake tiers a governed deployment sets
  // (ignition/lib/governance.ts: 10 000 and 50 000 FAB) it also reads the tiers and the stake.
  await ss.reputation.write.setStakeTiers([
    [10_000n * 10n ** 18n, 50_000n * 10n ** 18n],
    [1_000, 2_000],
  ]);
  const tieredEth = await open("eth");
  const tieredUsd = await open("usd");

  const OPEN = 150_000n;
  const CHECKPOINT = 80_000n;
  const CLOSE = 120_000n;
  sessionRows.push(
    ["session open (ETH), first session", firstSession.used, OPEN],
    ["session open (ETH), steady state", steadySession.used, OPEN],
    ["session open (ERC-20), first deposit of the token", usdFirst.used, OPEN],
    ["session open (ERC-20), steady state", usdSteady.used, OPEN],
    ["session open (ETH), two stake tiers set (governed defaults)", tieredEth.used, OPEN],
    ["session open (ERC-20), two stake tiers set (governed defaults)", tieredUsd.used, OPEN],
    ["session topUp (ETH)", topUp, undefined],
    ["session checkpoint, first payout ever (host balance, fees from zero)", cp1, CHECKPOINT],
    ["session checkpoint, the host's second payout", cp2, CHECKPOINT],
    ["session checkpoint, first of a later session", cp3, CHECKPOINT],
    ["session checkpoint, steady state", cp4, CHECKPOINT],
    ["session close with receipt, first refund ever", closeFirst, CLOSE],
    ["session close with receipt, steady state", closeSteady, CLOSE],
    ["session close without receipt", closeBare, CLOSE],
    ["session requestClose (renter)", requestClose, undefined],
    ["session settle after the close window", settle, CLOSE],
    ["session settle after expiry", settleExpired, CLOSE],
  );
  // A 20-answer session: receipts are signed off-chain after each answer; the chain sees the
  // open and the host's close with the last receipt (plus any checkpoints on the way).
  const PER_ANSWER = 15_000n;
  sessionRows.push(
    [
      "gas per answer, 20 answers: (open + close) / 20",
      (steadySession.used + closeSteady) / 20n,
      PER_ANSWER,
    ],
    [
      "gas per answer, 20 answers, checkpoint every 10: (open + cp + close) / 20",
      (steadySession.used + cp4 + closeSteady) / 20n,
      PER_ANSWER,
    ],
  );
}

// ---------------------------------------------------------------- trust layer

const trustRows: [string, bigint][] = [];
{
  const chain = await network.create();
  const ts = await deploySystem(chain);
  const { time } = chain.networkHelpers;
  const { marketplace: m, proofs, reputation, renter: tRenter, host: tHost, other } = ts;
  const tGas = async (hash: Hash | Promise<Hash>): Promise<bigint> => {
    const receipt = await ts.publicClient.waitForTransactionReceipt({ hash: await hash });
    if (receipt.status !== "success") throw new Error("transaction reverted");
    return receipt.gasUsed;
  };
  // The host stakes all its 10 000 FAB, so that five escalating slashes leave it eligible. The
  // renter and the challenger already hold FAB, so a slash's compensation is a steady-state
  // transfer (the treasury, account 0, holds the rest of the supply).
  await ts.registry.write.register([registration({ stake: 10_000n * FAB })], {
    account: tHost.account,
  });
  for (const who of [tRenter, other]) await ts.fab.write.transfer([who.account.address, FAB]);

  /** Posts, claims and (unless `claimOnly`) completes an ETH job with `tokens` billed. */
  const job = async (tokens: number, claimOnly = false): Promise<bigint> => {
    const r = await jobRequest(ts, { deadline: BigInt(await time.latest()) + 7n * 86_400n });
    const id = await m.read.nextJobId();
    await m.write.postJob([r], {
      account: tRenter.account,
      value: BigInt(r.maxTokens) * r.maxPricePerToken,
    });
    await m.write.claimJob([id], { account: tHost.account });
    if (!claimOnly) await m.write.completeJob([id, OUTPUT, tokens], { account: tHost.account });
    return id;
  };
  /** A real proof of `tokens` deterministic token ids for job `id`, submitted by its host. */
  const prove = async (id: bigint, tokens: number) => {
    const tokenIds = Array.from(
      { length: tokens },
      (_, i) => (Number(id) * 7_919 + i * 104_729) % 32_000,
    );
    const binding = bindingOf({ kind: ProofWork.Job, id, modelId: MODEL, requestHash: PROMPT });
    const { chunks } = await proveOutput({ binding, tokenIds });
    return tGas(
      proofs.write.submitJobProof([id, PROMPT, toChunkArgs(chunks)], { account: tHost.account }),
    );
  };
  /** Opens a count or output challenge of job `id` from `other`; returns its gas and id. */
  const challenge = async (kind: "count" | "output", id: bigint) => {
    const challengeId = await proofs.read.nextChallengeId();
    const [, value] = await proofs.read.challengeBondOfJob([id]);
    const evidence = keccak256(stringToHex(`evidence ${id}`));
    const used = await tGas(
      kind === "count"
        ? proofs.write.challengeJobCount([id], { account: other.account, value })
        : proofs.write.challengeJobOutput([id, evidence], { account: other.account, value }),
    );
    return { used, challengeId };
  };
  const dispute = async (id: bigint) =>
    tGas(
      m.write.disputeJob([id, keccak256(stringToHex("evidence"))], {
        account: tRenter.account,
        value: await m.read.disputeBondOf([id]),
      }),
    );

  // Every job is claimed and completed first, while the host's stake is whole.
  const [one, ten, answered, unanswered, upheld, rejected, unarbitrated] = [
    await job(64),
    await job(640),
    await job(64),
    await job(64),
    await job(64),
    await job(64),
    await job(64),
  ];
  const [lost, won, defaulted, rated1, rated2] = [
    await job(700),
    await job(700),
    await job(700),
    await job(700),
    await job(700),
  ];
  const abandoned = await job(0, true);

  const proofOne = await prove(one, 64);
  const proofTen = await prove(ten, 640);
  const countOpen = await challenge("count", answered);
  const countLate = await challenge("count", unanswered);
  // The host answers the challenge with its proof: the challenge ends at once, bond to the host.
  const proofAnswering = await prove(answered, 64);
  const outputOpen = await challenge("output", upheld);
  const outputNo = await challenge("output", rejected);
  const outputLate = await challenge("output", unarbitrated);

  const disputeOpen = await dispute(lost);
  await dispute(won);
  await dispute(defaulted);

  // Ratings (the host's first, then a later one) and a session's, before any slash.
  await m.write.acceptJob([rated1], { account: tRenter.account });
  await m.write.acceptJob([rated2], { account: tRenter.account });
  const rateFirst = await tGas(reputation.write.rateJob([rated1, 5], { account: tRenter.account }));
  const rateSteady = await tGas(
    reputation.write.rateJob([rated2, 4], { account: tRenter.account }),
  );
  const { sessionId, terms } = await openSession(ts, await sessionRequest(ts));
  const receipt = receiptFor(sessionId, terms, 300);
  await ts.sessions.write.closeSession(
    [terms, sessionId, receipt, await signReceipt(tRenter, ts.sessions.address, receipt)],
    { account: tHost.account },
  );
  const rateSession = await tGas(
    reputation.write.rateSession([terms, sessionId, 5], { account: tRenter.account }),
  );
  // What the renter gateway opens after a failed spot-check: an output challenge of a session.
  const [, sessionBond] = await proofs.read.challengeBondOfSession([terms, sessionId]);
  const sessionOutputOpen = await tGas(
    proofs.write.challengeSessionOutput([terms, sessionId, keccak256(stringToHex("evidence"))], {
      account: other.account,
      value: sessionBond,
    }),
  );

  // Resolutions; each slash escalates the next (a share doubled per earlier offence, capped).
  const resolveLost = await tGas(m.write.resolveDispute([lost, 0]));
  const resolveWon = await tGas(m.write.resolveDispute([won, 10_000]));
  const outputUpheld = await tGas(
    proofs.write.resolveOutputChallenge([outputOpen.challengeId, true]),
  );
  const outputRejected = await tGas(
    proofs.write.resolveOutputChallenge([outputNo.challengeId, false]),
  );
  // A slash on its own: a recorder's recordOffence (the admin made a recorder for the figure).
  await reputation.write.setRecorder([ts.admin.account.address, true]);
  const slashAlone = await tGas(
    reputation.write.recordOffence([
      0,
      tHost.account.address,
      tRenter.account.address,
      keccak256(stringToHex("figure")),
    ]),
  );
  await time.increase(3_601);
  const expireAbandoned = await tGas(m.write.expireJob([abandoned], { account: other.account }));
  await time.increase(86_400);
  const countUnanswered = await tGas(
    proofs.write.resolveCountChallenge([countLate.challengeId], { account: tRenter.account }),
  );
  await time.increase(7 * 86_400);
  const outputDefault = await tGas(
    proofs.write.settleOutputChallenge([outputLate.challengeId], { account: tRenter.account }),
  );
  const disputeDefault = await tGas(m.write.settleDispute([defaulted], { account: other.account }));
  await disposeProver();

  trustRows.push(
    ["submitJobProof, 1 chunk (64 tokens)", proofOne],
    ["submitJobProof, 10 chunks (640 tokens)", proofTen],
    ["submitJobProof, 10 chunks, per proof", proofTen / 10n],
    ["challengeJobCount (ETH bond)", countOpen.used],
    ["submitJobProof answering a count challenge (1 chunk; bond to host)", proofAnswering],
    ["resolveCountChallenge, unanswered (slash, bond back)", countUnanswered],
    ["challengeJobOutput (ETH bond)", outputOpen.used],
    ["challengeSessionOutput (ETH bond)", sessionOutputOpen],
    ["resolveOutputChallenge, upheld (slash, bond back)", outputUpheld],
    ["resolveOutputChallenge, rejected (bond to host)", outputRejected],
    ["settleOutputChallenge after the deadline (bond back)", outputDefault],
    ["slash alone: recordOffence by a recorder", slashAlone],
    ["expire an abandoned claim (refund + slash)", expireAbandoned],
    ["rateJob, the host's first rating", rateFirst],
    ["rateJob, steady state", rateSteady],
    ["rateSession", rateSession],
    ["disputeJob (ETH bond)", disputeOpen],
    ["resolveDispute, host lost (slash)", resolveLost],
    ["resolveDispute, host won", resolveWon],
    ["settleDispute after the arbitration deadline", disputeDefault],
  );
}

// ---------------------------------------------------------------- governance and tokenomics

const governanceRows: [string, bigint][] = [];
{
  const chain = await network.create();
  const g = await deployGoverned(chain);
  const { time } = chain.networkHelpers;
  const gGas = async (hash: Hash | Promise<Hash>): Promise<bigint> => {
    const receipt = await g.publicClient.waitForTransactionReceipt({ hash: await hash });
    if (receipt.status !== "success") throw new Error("transaction reverted");
    return receipt.gasUsed;
  };
  // The deployer holds the local FAB and its votes (LocalDev delegates them to itself).
  const me = g.deployer.account.address;
  await g.fab.write.transfer([g.host.account.address, 20_000n * FAB]);
  const delegateFirst = await gGas(
    g.fab.write.delegate([g.host.account.address], { account: g.host.account }),
  );
  // A host registering with the pool observing its stake (the pool counts it for rewards).
  await g.fab.write.approve([g.registry.address, 10_001n * FAB], { account: g.host.account });
  const register = await gGas(
    g.registry.write.register([registration({ stake: 10_000n * FAB })], {
      account: g.host.account,
    }),
  );
  const addStake = await gGas(g.registry.write.addStake([FAB], { account: g.host.account }));

  // A proposal's life: one action (the fee split), as the governance CLI proposes it.
  const actions = [action(g.escrow, "setFeeSplit", [8_000, 1_500, 500])];
  const p = proposalArgs(actions, "gas: fee split");
  const id = await g.governor.read.hashProposal([
    p.targets,
    p.values,
    p.calldatas,
    p.descriptionHash,
  ]);
  const propose = await gGas(
    g.governor.write.propose([p.targets, p.values, p.calldatas, "gas: fee split"]),
  );
  await time.increase(Number(await g.governor.read.votingDelay()) + 1);
  const vote = await gGas(g.governor.write.castVote([id, VOTE.for]));
  const voteSecond = await gGas(
    g.governor.write.castVote([id, VOTE.against], { account: g.host.account }),
  );
  await time.increase(
    Number(await g.governor.read.proposalDeadline([id])) - (await time.latest()) + 1,
  );
  const queue = await gGas(
    g.governor.write.queue([p.targets, p.values, p.calldatas, p.descriptionHash]),
  );
  await time.increase(Number(await g.timelock.read.getMinDelay()) + 1);
  const execute = await gGas(
    g.governor.write.execute([p.targets, p.values, p.calldatas, p.descriptionHash]),
  );

  // The stakers pool: a plain FAB stake with a 90-day lock, ETH fees arriving, a claim.
  await g.fab.write.approve([g.pool.address, 2_000n * FAB]);
  const stakeFirst = await gGas(g.pool.write.stake([1_000n * FAB, 2]));
  const stakeMore = await gGas(g.pool.write.stake([1_000n * FAB, 2]));
  await g.deployer.sendTransaction({ to: g.pool.address, value: parseEther("1") });
  const poolSync = await gGas(g.pool.write.sync([zeroAddress]));
  const claim = await gGas(g.pool.write.claim([[zeroAddress], me]));

  // The treasury: ETH fees arriving, then a buyback through the seeded Uniswap V2 FAB/WETH pool.
  await g.deployer.sendTransaction({ to: g.treasury.address, value: parseEther("1") });
  const treasurySync = await gGas(g.treasury.write.sync([zeroAddress]));
  const reserve = await g.treasury.read.buybackReserve([zeroAddress]);
  const deadline = BigInt(await time.latest()) + 3_600n;
  // The keeper's minimum: the pool's quote less 1% (the treasury refuses a looser one).
  const amounts = await g.publicClient.readContract({
    address: g.router,
    abi: uniswapV2RouterAbi,
    functionName: "getAmountsOut",
    args: [reserve, [g.weth, g.fab.address]],
  });
  const minFabOut = ((amounts[amounts.length - 1] ?? 0n) * 99n) / 100n;
  const buyback = await gGas(
    g.treasury.write.buyback([zeroAddress, reserve, minFabOut, deadline], {
      account: g.keeper.account,
    }),
  );
  governanceRows.push(
    ["FAB delegate, first time", delegateFirst],
    ["register (10 000 FAB in custody, the pool observing)", register],
    ["addStake (the pool observing)", addStake],
    ["governor propose (one action)", propose],
    ["governor castVote, first voter", vote],
    ["governor castVote, second voter", voteSecond],
    ["governor queue (into the timelock)", queue],
    ["governor execute (setFeeSplit through the timelock)", execute],
    ["pool stake, first (90-day lock)", stakeFirst],
    ["pool stake, again", stakeMore],
    ["pool sync (ETH arrived)", poolSync],
    ["pool claim (ETH)", claim],
    ["treasury sync (ETH arrived)", treasurySync],
    ["treasury buyback ETH -> FAB on Uniswap V2, burned", buyback],
  );
}

// ---------------------------------------------------------------- model catalog

const catalogRows: [string, bigint][] = [];
{
  // On the first chain, after its other figures: the admin (account 0) holds LISTER_ROLE there.
  const { catalog, other } = sys;
  const info = (name: string) => ({
    fileSha256: keccak256(stringToHex(`${name}.gguf`)),
    name,
    architecture: "llama",
    quantization: "Q4_K_M",
    contextLength: 131_072,
    licence: "llama3.1",
    minPricePerToken: parseEther("0.000000001"),
    maxPricePerToken: parseEther("0.00000001"),
  });
  const proposed = stringToHex("gas-proposed-model", { size: 32 });
  const direct = stringToHex("gas-listed-model", { size: 32 });
  const propose = await gas(
    catalog.write.propose([proposed, info("Llama 3.1 8B Instruct Q4_K_M")], {
      account: other.account,
    }),
  );
  const approve = await gas(catalog.write.list([proposed, info("Llama 3.1 8B Instruct Q4_K_M")]));
  const listDirect = await gas(catalog.write.list([direct, info("Llama 3.1 8B Instruct Q4_K_M")]));
  // A host offering a listed model while the registry checks offers against the catalog.
  await registry.write.setModelCatalog([catalog.address]);
  const offerChecked = await gas(
    registry.write.setOffers([[{ modelId: direct, token: zeroAddress, pricePerToken: 1n }]], {
      account: host.account,
    }),
  );
  const delist = await gas(catalog.write.delist([proposed]));
  catalogRows.push(
    ["catalog propose (all fields)", propose],
    ["catalog list, approving a proposal", approve],
    ["catalog list, directly", listDirect],
    ["catalog delist", delist],
    ["setOffers (1 new model, checked against the catalog)", offerChecked],
  );
}

const width = Math.max(
  ...[...rows, ...sessionRows, ...trustRows, ...governanceRows, ...catalogRows].map(
    ([n]) => n.length,
  ),
);
for (const [n, g] of rows) console.log(`${n.padEnd(width)}  ${g.toString().padStart(8)}`);
const total = (xs: bigint[]) => xs.reduce((a, b) => a + b, 0n);
console.log(
  `${"ETH job post->settled, first job".padEnd(width)}  ${total(first).toString().padStart(8)}`,
);
console.log(
  `${"ETH job post->settled, steady state".padEnd(width)}  ${total(steady).toString().padStart(8)}  (target <= 300000)`,
);
console.log("");
let missed = 0;
for (const [n, g, target] of sessionRows) {
  const verdict =
    target === undefined ? "" : `  (target <= ${target}${g > target ? ", MISSED" : ""})`;
  if (target !== undefined && g > target) missed++;
  console.log(`${n.padEnd(width)}  ${g.toString().padStart(8)}${verdict}`);
}
if (missed > 0) console.log(`\n${missed} session figure(s) above target`);
console.log("");
for (const [n, g] of trustRows) console.log(`${n.padEnd(width)}  ${g.toString().padStart(8)}`);
console.log("");
for (const [n, g] of governanceRows) console.log(`${n.padEnd(width)}  ${g.toString().padStart(8)}`);
console.log("");
for (const [n, g] of catalogRows) console.log(`${n.padEnd(width)}  ${g.toString().padStart(8)}`);
void USD;
