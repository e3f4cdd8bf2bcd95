/**
 * Prints the gas of each step of the job lifecycle and of the session lifecycle, each step its
 * own transaction (so all storage it touches is cold), on Hardhat's in-process chain. Sessions
 * are measured on a fresh chain of their own, so their first figures start from empty storage.
 * Run: npm run gas
 */
import { network } from "hardhat";
import type { Hash } from "viem";
import { keccak256, parseEther, stringToHex, zeroAddress } from "viem";
import { openSession, receiptFor, sessionRequest, signReceipt } from "../fixtures/sessions.ts";
import { deploySystem, jobRequest, MODEL, OUTPUT, registration, USD } from "../fixtures/system.ts";
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
  await networkHelpers.time.increase(7_200);
  rows.push([
    "refund: expire (claimed)",
    await gas(marketplace.write.expireJob([id2], { account: host2.account })),
  ]);
  // The host hands a claimed job back before its deadline (renter refunded at once).
  const r3 = await jobRequest(sys);
  const id3 = await marketplace.read.nextJobId();
  await marketplace.write.postJob([r3], {
    account: renter.account,
    value: BigInt(r3.maxTokens) * r3.maxPricePerToken,
  });
  await marketplace.write.claimJob([id3], { account: host.account });
  rows.push([
    "refund: refuse (claimed)",
    await gas(
      marketplace.write.refuseJob([id3, stringToHex("prompt_too_long", { size: 32 })], {
        account: host.account,
      }),
    ),
  ]);
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

  const OPEN = 150_000n;
  const CHECKPOINT = 80_000n;
  const CLOSE = 120_000n;
  sessionRows.push(
    ["session open (ETH), first session", firstSession.used, OPEN],
    ["session open (ETH), steady state", steadySession.used, OPEN],
    ["session open (ERC-20), first deposit of the token", usdFirst.used, OPEN],
    ["session open (ERC-20), steady state", usdSteady.used, OPEN],
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

const width = Math.max(...[...rows, ...sessionRows].map(([n]) => n.length));
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
void USD;
