/**
 * The trust layer end to end, on the marketplace as `npm start` runs it, with three hosts of
 * which one cheats: host 1 (the cheapest, so the gateway picks it first) serves a reseeded copy
 * of the chat model under the listed name. The gateway spot-checks every answer with another
 * host; the cheater's answer fails the check and becomes a bonded output challenge whose
 * evidence goes to the arbiter; the arbiter re-checks it with the hosts other than the accused,
 * upholds it on chain, and the cheater is slashed: its stake and score drop, it falls below the
 * minimum stake so discovery no longer lists it, and the gateway stops using it. The honest hosts are never slashed, and a
 * renter that disputes an honest answer loses its bond to the host.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import OpenAI from "openai";
import { getAddress, parseEventLogs, zeroAddress } from "viem";
import { afterAll, beforeAll, describe, it } from "vitest";
import {
  jobMarketplaceAbi,
  nodeRegistryAbi,
  paymentEscrowAbi,
  proofSystemAbi,
  reputationSystemAbi,
} from "../../abis/index.ts";
import {
  LOCAL_DEFAULTS,
  type LocalMarketplace,
  startLocalMarketplace,
} from "../../local/marketplace.ts";
import { evidenceHash, type OutputEvidence } from "../../protocol/challenges.ts";
import { runToEnd } from "../../renter/client.ts";

const MODEL = LOCAL_DEFAULTS.chatModel;
// biome-ignore lint/suspicious/noExplicitAny: API JSON, checked field by field
type Json = any;
const CHALLENGE_UPHELD = 4;
const CHALLENGE_UNARBITRATED = 6;

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 180_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

describe("the trust layer end to end: a cheating host is caught and slashed", () => {
  let dir: string;
  let market: LocalMarketplace;
  let client: OpenAI;
  let cheater: `0x${string}`;
  let honest: `0x${string}`;
  let third: `0x${string}`;
  const stakeBefore = new Map<string, bigint>();
  /** The honest host's job of the dispute test. */
  let disputedJob: Awaited<ReturnType<typeof runToEnd>> | undefined;

  const read = () => market.renter.chain.public;
  const a = () => market.file.addresses as Record<string, `0x${string}`>;
  const stakeOf = async (host: `0x${string}`) =>
    (
      await read().readContract({
        address: a().NodeRegistry as `0x${string}`,
        abi: nodeRegistryAbi,
        functionName: "hostState",
        args: [host],
      })
    )[1];
  const scoreOf = (host: `0x${string}`) =>
    read().readContract({
      address: a().ReputationSystem as `0x${string}`,
      abi: reputationSystemAbi,
      functionName: "scoreOf",
      args: [host],
    });
  const escrowBalance = (account: `0x${string}`) =>
    read().readContract({
      address: a().PaymentEscrow as `0x${string}`,
      abi: paymentEscrowAbi,
      functionName: "balanceOf",
      args: [account, zeroAddress],
    });
  const api = async (pathname: string): Promise<Json> => {
    const res = await fetch(`${market.file.apiUrl}${pathname}`);
    return res.ok ? res.json() : undefined;
  };
  const ask = (content: string) =>
    client.chat.completions
      .create({
        model: MODEL,
        messages: [{ role: "user", content }],
        max_tokens: 12,
        temperature: 0,
      })
      .withResponse();

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "fabstir-trust-"));
    market = await startLocalMarketplace({
      dataDir: dir,
      fresh: true,
      hosts: 3,
      chainPort: 0,
      apiPort: 0,
      gatewayPort: 0,
      hostPort: 0,
      arbiterPort: 0,
      spotCheckRate: 1,
      cheaters: [1],
    });
    client = new OpenAI({
      baseURL: `${market.file.gatewayUrl}/v1`,
      apiKey: "unused",
      maxRetries: 0,
    });
    cheater = market.hosts[0]?.address as `0x${string}`;
    honest = market.hosts[1]?.address as `0x${string}`;
    third = market.hosts[2]?.address as `0x${string}`;
    for (const h of [cheater, honest, third]) stakeBefore.set(h, await stakeOf(h));
  });
  afterAll(async () => {
    await market?.stop();
    if (market) await rm(market.file.deploymentDir, { recursive: true, force: true });
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("catches the cheater's answer, challenges it with a bond, and the arbiter slashes it", async () => {
    assert.equal(await scoreOf(cheater), 500, "a new host starts from the neutral score");
    const renterEscrowBefore = await escrowBalance(market.renter.address);

    const { data, response } = await ask("What does a GPU do?");
    assert.ok((data.choices[0]?.message.content ?? "").length > 0);
    assert.equal(getAddress(response.headers.get("x-fabstir-host") ?? ""), getAddress(cheater));

    // The gateway's check failed with an honest host as verifier, and became a challenge.
    const report = await until("the gateway's challenge", async () => {
      const body = (await (
        await fetch(`${market.file.gatewayUrl}/v1/fabstir/checks`)
      ).json()) as Json;
      const r = body.checks.find((c: Json) => c.host.toLowerCase() === cheater.toLowerCase());
      if (r?.error) throw new Error(`the challenge failed: ${r.error}`);
      return r?.challenge?.evidenceSent ? r : undefined;
    });
    assert.equal(report.verdict.result.outcome, "failed");
    assert.notEqual(report.verdict.verifier.address.toLowerCase(), cheater.toLowerCase());
    assert.ok(report.verdict.result.check.miss_rate > 0.1);
    const challengeId = BigInt(report.challenge.id);

    // The arbiter re-checked the evidence with both other hosts, and upheld it.
    const decided = await until("the arbiter's decision", async () => {
      const res = await fetch(`${market.arbiter.url}/v1/challenges/${challengeId}`);
      const body = (await res.json()) as Json;
      return body.status === "pending" ? undefined : body;
    });
    assert.equal(decided.status, "upheld", JSON.stringify(decided));
    assert.deepEqual(
      decided.verdicts.map((v: Json) => [v.verifier.toLowerCase(), v.outcome]).sort(),
      [honest, third].map((h) => [h.toLowerCase(), "failed"]).sort(),
    );
    assert.equal(decided.evidence, undefined, "the arbiter's API never shows the evidence");
    const challenge = await read().readContract({
      address: a().ProofSystem as `0x${string}`,
      abi: proofSystemAbi,
      functionName: "challengeOf",
      args: [challengeId],
    });
    assert.equal(challenge.status, CHALLENGE_UPHELD);
    const receipt = await read().getTransactionReceipt({ hash: decided.tx });
    const [resolved] = parseEventLogs({
      abi: proofSystemAbi,
      eventName: "ChallengeResolved",
      logs: receipt.logs,
    });
    const slashed = resolved?.args.slashed ?? 0n;
    assert.ok(slashed > 0n, "the cheater was slashed");

    // Its stake and score dropped; the renter got its bond back and a share of the slash.
    assert.equal(await stakeOf(cheater), (stakeBefore.get(cheater) ?? 0n) - slashed);
    const score = await scoreOf(cheater);
    assert.ok(score < 500, `the cheater's score ${score} fell below the neutral 500`);
    assert.ok(
      (await escrowBalance(market.renter.address)) >=
        renterEscrowBefore + BigInt(report.challenge.bond),
    );

    // Its stake fell below the minimum: discovery no longer lists it (the registry refuses
    // it new jobs and sessions), and its page shows the record once the indexer has the slash.
    let seen: unknown;
    const page = await until("the indexer to show the slash", async () => {
      const hosts = (await api(`/hosts?model=${MODEL}&sort=score`))?.hosts as Json[] | undefined;
      seen = hosts?.map((h) => [h.address, h.score]);
      const listed = hosts?.map((h) => h.address.toLowerCase()).sort();
      const p = await api(`/hosts/${cheater}`);
      return JSON.stringify(listed) ===
        JSON.stringify([honest, third].map((h) => h.toLowerCase()).sort()) &&
        p?.record?.challengesLost === 1
        ? p
        : undefined;
    }).catch((e) => {
      throw new Error(`${(e as Error).message}: discovery lists ${JSON.stringify(seen)}`);
    });
    assert.equal(page.eligible, false);
    assert.equal(page.score, Number(score));
    assert.equal(page.record.offences, 1);
    assert.equal(BigInt(page.record.slashed), slashed);
    assert.equal(
      (await api(`/hosts?model=${MODEL}&sort=score&minScore=500`)).hosts.length,
      2,
      "both honest hosts meet the neutral score",
    );

    // The gateway no longer uses the cheater, although it is still the cheapest: the next
    // cheapest answers.
    const next = await ask("And what does a CPU do?");
    assert.equal(getAddress(next.response.headers.get("x-fabstir-host") ?? ""), getAddress(honest));
  });

  it("never slashes the honest hosts, and refuses evidence that does not match the chain", async () => {
    await ask("Tell me about memory.");
    await market.renter.trust?.idle();
    // The honest host's answers were checked by the third host (the caught cheater judges no
    // one) and passed.
    const reports = market.renter.trust?.reports() ?? [];
    const mine = reports.filter((r) => r.host.toLowerCase() === honest.toLowerCase());
    assert.ok(mine.length >= 2);
    for (const r of mine) {
      assert.equal(r.verdict.result.outcome, "passed", JSON.stringify(r.verdict.result));
      assert.equal(r.verdict.verifier?.address.toLowerCase(), third.toLowerCase());
    }
    for (const h of [honest, third]) {
      assert.equal(await stakeOf(h), stakeBefore.get(h));
      assert.ok((await scoreOf(h)) >= 500);
    }

    // The renter rates the honest host's session through the gateway once it is settled.
    const session = market.renter.sessions
      .held()
      .find((h) => h.host.address.toLowerCase() === honest.toLowerCase());
    assert.ok(session);
    assert.equal((await market.renter.sessions.close(session.id)).how, "host");
    const rated = await fetch(`${market.file.gatewayUrl}/v1/fabstir/ratings`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ kind: "session", id: session.id.toString(), stars: 5 }),
    });
    const rating = (await rated.json()) as Json;
    assert.equal(rated.status, 200, JSON.stringify(rating));
    assert.equal(rating.host.toLowerCase(), honest.toLowerCase());
    assert.equal(rating.score, await scoreOf(honest));
    const again = await fetch(`${market.file.gatewayUrl}/v1/fabstir/ratings`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ kind: "session", id: session.id.toString(), stars: 1 }),
    });
    assert.equal(again.status, 502, "a session is rated once");

    // Evidence for a challenge that does not exist, or that is malformed, is refused.
    const post = (id: string, body: unknown) =>
      fetch(`${market.arbiter.url}/v1/challenges/${id}/evidence`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    assert.equal((await post("999", { v: 1 })).status, 409);
    assert.equal((await post("not-an-id", {})).status, 400);
    const malformed = await fetch(`${market.arbiter.url}/v1/disputes/1/evidence`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{",
    });
    assert.ok([400, 409].includes(malformed.status));
  });

  it("a renter who disputes an honest answer in bad faith loses its bond to the host", async () => {
    const result = await runToEnd(
      market.renter.run(
        {
          model: MODEL,
          messages: [{ role: "user", content: "Name a colour." }],
          max_tokens: 8,
          temperature: 0,
        },
        { host: honest, accept: false },
      ),
    );
    assert.equal(result.verified, true);
    disputedJob = result;
    const hostEscrowBefore = await escrowBalance(honest);
    const disputed = await market.renter.disputeAnswer(result.jobId, {
      model: MODEL,
      served: result.served,
      answer: result.text,
      arbiterUrl: market.arbiter.url,
    });
    assert.ok(disputed.bond > 0n);
    assert.equal(disputed.evidenceSent, true);
    const decided = await until("the arbiter's dispute decision", async () => {
      const body = (await (
        await fetch(`${market.arbiter.url}/v1/disputes/${result.jobId}`)
      ).json()) as Json;
      return body.status === "pending" ? undefined : body;
    });
    // The third host checked the answer (the caught cheater is below the verifiers' minimum
    // score): it is the model's, so the dispute is rejected.
    assert.equal(decided.status, "rejected", JSON.stringify(decided));
    assert.deepEqual(
      decided.verdicts.map((v: Json) => [v.verifier.toLowerCase(), v.outcome]),
      [[third.toLowerCase(), "passed"]],
    );
    const receipt = await read().getTransactionReceipt({ hash: decided.tx });
    const [settled] = parseEventLogs({
      abi: jobMarketplaceAbi,
      eventName: "JobSettled",
      logs: receipt.logs,
    });
    assert.equal(settled?.args.hostBps, 10_000);
    // The host was paid in full and got the renter's bond.
    assert.ok((await escrowBalance(honest)) >= hostEscrowBefore + disputed.bond);
    assert.equal(await stakeOf(honest), stakeBefore.get(honest));
  });

  it("applies the contracts' default to a challenge no one decided by its deadline: bond back, nobody slashed", async () => {
    // A renter challenges the honest host's job of the test before, and the arbiter only gets
    // the evidence after the arbitration window (7 days) has passed.
    const disputed = disputedJob;
    assert.ok(disputed, "the dispute test ran");
    const jobId = disputed.jobId;
    const result = await market.renter.job(jobId);
    const evidence: OutputEvidence = {
      v: 1,
      chainId: 31337,
      proofSystem: a().ProofSystem as `0x${string}`,
      work: "job",
      id: jobId.toString(),
      model: MODEL,
      request: { messages: disputed.served.messages ?? [], params: disputed.served.params ?? {} },
      answer: disputed.text,
      salt: `0x${"42".repeat(32)}`,
    };
    assert.equal(result.status, "Settled");
    const [, bond] = await read().readContract({
      address: a().ProofSystem as `0x${string}`,
      abi: proofSystemAbi,
      functionName: "challengeBondOfJob",
      args: [jobId],
    });
    const opened = await market.renter.chain.send("challengeJobOutput", {
      address: a().ProofSystem as `0x${string}`,
      abi: proofSystemAbi,
      functionName: "challengeJobOutput",
      args: [jobId, evidenceHash(evidence)],
      value: bond,
    });
    const [event] = parseEventLogs({
      abi: proofSystemAbi,
      eventName: "OutputChallengeOpened",
      logs: opened.logs,
    });
    const id = event?.args.challengeId as bigint;
    const escrowBefore = await escrowBalance(market.renter.address);
    const stakeBefore = await stakeOf(honest);
    await read().request({ method: "evm_increaseTime" as never, params: [8 * 86_400] as never });
    await read().request({ method: "evm_mine" as never, params: [] as never });
    const res = await fetch(`${market.arbiter.url}/v1/challenges/${id}/evidence`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(evidence),
    });
    assert.equal(res.status, 202, await res.clone().text());
    const ended = await until("the arbiter to apply the default", async () => {
      const body = (await (
        await fetch(`${market.arbiter.url}/v1/challenges/${id}`)
      ).json()) as Json;
      return body.status === "expired" && body.tx ? body : undefined;
    });
    assert.deepEqual(ended.verdicts, [], "nothing was asked past the deadline");
    const challenge = await read().readContract({
      address: a().ProofSystem as `0x${string}`,
      abi: proofSystemAbi,
      functionName: "challengeOf",
      args: [id],
    });
    assert.equal(challenge.status, CHALLENGE_UNARBITRATED);
    assert.equal(await escrowBalance(market.renter.address), escrowBefore + bond);
    assert.equal(await stakeOf(honest), stakeBefore);
  });
});
