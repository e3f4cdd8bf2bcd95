/**
 * Prints the gas of each step of the job lifecycle, each step its own transaction
 * (so all storage it touches is cold), on Hardhat's in-process chain.
 * Run: npm run gas
 */
import { network } from "hardhat";
import type { Hash } from "viem";
import { parseEther, stringToHex } from "viem";
import { deploySystem, jobRequest, MODEL, OUTPUT, registration, USD } from "../fixtures/system.ts";

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

const width = Math.max(...rows.map(([n]) => n.length));
for (const [n, g] of rows) console.log(`${n.padEnd(width)}  ${g.toString().padStart(8)}`);
const total = (xs: bigint[]) => xs.reduce((a, b) => a + b, 0n);
console.log(
  `${"ETH job post->settled, first job".padEnd(width)}  ${total(first).toString().padStart(8)}`,
);
console.log(
  `${"ETH job post->settled, steady state".padEnd(width)}  ${total(steady).toString().padStart(8)}  (target <= 300000)`,
);
void USD;
