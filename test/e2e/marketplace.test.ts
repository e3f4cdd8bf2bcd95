/**
 * The first milestone, end to end: the local marketplace exactly as `npm start` runs it
 * (Hardhat chain + Ignition deploy, Ponder on PGlite, two host nodes with the generated
 * models, the renter gateway), driven through the renter CLI's own functions and, separately,
 * through the official `openai` client pointed at the renter gateway. Then a restart that
 * resumes the recorded chain.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import OpenAI from "openai";
import { zeroAddress } from "viem";
import { afterAll, beforeAll, describe, it } from "vitest";
import { paymentEscrowAbi } from "../../abis/index.ts";
import {
  LOCAL_DEFAULTS,
  type LocalMarketplace,
  startLocalMarketplace,
} from "../../local/marketplace.ts";
import { waitFor } from "../../local/process.ts";
import {
  HostCommandError,
  hostStatus,
  initHost,
  unstake,
  withdrawEarnings,
} from "../../node/cli/host-commands.ts";
import { loadNodeConfig } from "../../node/config.ts";
import { startHttpServer } from "../../protocol/http-server.ts";
import type { RunResult } from "../../renter/client.ts";
import { disputeJob, listHosts, runPrompt, showJob } from "../../renter/commands.ts";
import { JobNotFoundError, NoHostError, RenterUsageError } from "../../renter/errors.ts";
import { createGatewayApp } from "../../renter/gateway.ts";

const MODEL = LOCAL_DEFAULTS.chatModel;
// biome-ignore lint/suspicious/noExplicitAny: API JSON, checked field by field
type Json = any;

describe("the local marketplace end to end", () => {
  let dir: string;
  let market: LocalMarketplace;

  const start = (fresh: boolean) =>
    startLocalMarketplace({
      dataDir: dir,
      fresh,
      hosts: 2,
      chainPort: 0,
      apiPort: 0,
      gatewayPort: 0,
      hostPort: 0,
      arbiterPort: 0,
    });
  const api = async (pathname: string): Promise<Json> => {
    const res = await fetch(`${market.file.apiUrl}${pathname}`);
    return res.ok ? res.json() : undefined;
  };
  const escrowBalance = (account: `0x${string}`) =>
    market.renter.chain.public.readContract({
      address: market.file.addresses.PaymentEscrow as `0x${string}`,
      abi: paymentEscrowAbi,
      functionName: "balanceOf",
      args: [account, zeroAddress],
    });
  const feeSplit = () =>
    market.renter.chain.public.readContract({
      address: market.file.addresses.PaymentEscrow as `0x${string}`,
      abi: paymentEscrowAbi,
      functionName: "feeSplit",
    });
  const cacheHits = async (url: string) => {
    const text = await (await fetch(`${url}/metrics`)).text();
    return text
      .split("\n")
      .filter((l) => l.startsWith("fabstir_tokens_total") && l.includes('kind="cached_completion"'))
      .reduce((n, l) => n + Number(l.split(" ").at(-1)), 0);
  };

  /** The payment split is exact: 85/10/5 of tokens x price, the rest refunded. */
  async function assertPaidExactly(r: RunResult) {
    assert.ok(r.payment, "the job was accepted");
    const [hostBps, treasuryBps] = await feeSplit();
    const job = await market.renter.job(r.jobId);
    assert.equal(job.status, "Settled");
    const price = BigInt(r.host.pricePerToken ?? 0);
    const cost = BigInt(r.usage.completionTokens) * price;
    assert.equal(r.payment.host + r.payment.treasury + r.payment.stakers, cost);
    assert.equal(r.payment.host, (cost * BigInt(hostBps)) / 10_000n);
    assert.equal(r.payment.treasury, (cost * BigInt(treasuryBps)) / 10_000n);
    assert.equal(r.payment.refund, r.deposit - cost);
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "fabstir-e2e-"));
    market = await start(true);
  });
  const after: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const f of after) await f();
    await market?.stop();
    if (market) await rm(market.file.deploymentDir, { recursive: true, force: true });
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("through the CLI's functions: discovers, posts, streams, accepts, pays exactly, and indexes", async () => {
    const hosts = await listHosts(market.renter, { model: MODEL, sort: "price" });
    assert.equal(hosts.length, 2);
    assert.ok(BigInt(hosts[0]?.pricePerToken ?? 0) < BigInt(hosts[1]?.pricePerToken ?? 0));
    const cheapest = hosts[0];
    assert.ok(cheapest);
    const hostUrl = market.hosts.find((h) => h.address.toLowerCase() === cheapest.address)?.url;
    assert.ok(hostUrl);
    const before = await escrowBalance(cheapest.address);
    const hitsBefore = await cacheHits(hostUrl);

    const tokens: string[] = [];
    const steps: string[] = [];
    const prompt = { prompt: "What does a GPU do?", model: MODEL, maxTokens: 16 };
    const first = await runPrompt(market.renter, {
      ...prompt,
      onToken: (t) => tokens.push(t),
      onProgress: (e) => steps.push(e.type),
    });
    assert.deepEqual(steps, ["host", "posted", "claimed", "answer", "completed", "accepted"]);
    assert.equal(first.host.address, cheapest.address, "chose the cheapest host");
    assert.ok(tokens.length > 1, "the answer streamed in pieces");
    assert.equal(tokens.join(""), first.text);
    assert.equal(first.verified, true);
    assert.equal(first.cached, false);
    await assertPaidExactly(first);
    assert.equal((await escrowBalance(cheapest.address)) - before, first.payment?.host);

    // The indexer: the job settled with the same split, the host's statistics updated.
    const indexed = await waitFor("the indexer to show the job settled", async () => {
      const j = await api(`/jobs/${first.jobId}`);
      return j?.status === "Settled" ? j : undefined;
    });
    assert.equal(indexed.tokensUsed, first.usage.completionTokens);
    assert.deepEqual(
      indexed.history.map((h: Json) => h.status),
      ["Posted", "Claimed", "Completed", "Settled"],
    );
    const release = indexed.payments.find((p: Json) => p.kind === "release");
    assert.equal(BigInt(release.hostAmount), first.payment?.host);
    assert.equal(BigInt(release.treasuryAmount), first.payment?.treasury);
    assert.equal(BigInt(release.stakersAmount), first.payment?.stakers);
    const host = await api(`/hosts/${cheapest.address}`);
    assert.equal(host.jobsCompleted, 1);
    assert.equal(BigInt(host.tokensServed), BigInt(first.usage.completionTokens));
    assert.equal(
      BigInt(host.earnings.find((e: Json) => e.token === zeroAddress).amount),
      first.payment?.host,
    );
    const shown = await showJob(market.renter, first.jobId);
    assert.equal(shown.onChain.status, "Settled");
    assert.equal(shown.indexed?.status, "Settled");

    // The same prompt again: a new paid job, answered from the host's semantic cache.
    const second = await runPrompt(market.renter, prompt);
    assert.notEqual(second.jobId, first.jobId);
    assert.equal(second.cached, true);
    assert.equal(second.text, first.text);
    assert.equal(second.usage.completionTokens, first.usage.completionTokens);
    await assertPaidExactly(second);
    assert.ok((await cacheHits(hostUrl)) > hitsBefore);
  });

  it("through the openai client against the renter gateway in job mode: streams, pays and caches", async () => {
    // The default gateway chats on sessions (test/e2e/sessions.test.ts); this one posts a job
    // per request, as `npm run renter -- gateway --jobs` does.
    const jobGateway = await startHttpServer(
      createGatewayApp({ renter: market.renter, mode: "job" }),
      { port: 0 },
    );
    after.push(() => jobGateway.close());
    const client = new OpenAI({
      baseURL: `${jobGateway.url}/v1`,
      apiKey: "unused",
      maxRetries: 0,
    });
    const models = await client.models.list();
    assert.deepEqual(
      models.data.map((m) => m.id),
      [MODEL],
    );
    const request = {
      model: MODEL,
      messages: [{ role: "user" as const, content: "Name three prime numbers." }],
      max_tokens: 12,
      temperature: 0,
    };
    const stream = await client.chat.completions.create({
      ...request,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let pieces = 0;
    let last: Json;
    for await (const chunk of stream) {
      const piece = chunk.choices[0]?.delta.content;
      if (piece) {
        text += piece;
        pieces++;
      }
      last = chunk;
    }
    assert.ok(pieces > 1);
    assert.equal(last.usage.completion_tokens, 12);
    const jobId = BigInt(last.fabstir.job_id);
    assert.equal(last.fabstir.cached, false);
    assert.equal(last.fabstir.verified, true);
    const job = await market.renter.job(jobId);
    assert.equal(job.status, "Settled");
    const cost = BigInt(job.tokensUsed) * job.pricePerToken;
    const p = last.fabstir.payment;
    assert.equal(BigInt(p.host) + BigInt(p.treasury) + BigInt(p.stakers), cost);
    await waitFor("the indexer to show the gateway's job settled", async () =>
      (await api(`/jobs/${jobId}`))?.status === "Settled" ? true : undefined,
    );

    // Non-streaming, same request: answered from the cache with the same text.
    const again = await client.chat.completions.create(request).withResponse();
    assert.equal(again.data.choices[0]?.message.content, text);
    assert.equal(again.response.headers.get("x-fabstir-cached"), "true");
    const againJob = BigInt(again.response.headers.get("x-fabstir-job-id") ?? "0");
    assert.ok(againJob > jobId);
    assert.equal((await market.renter.job(againJob)).status, "Settled");
  });

  it("refuses bad input clearly and loses nothing", async () => {
    const client = new OpenAI({
      baseURL: `${market.file.gatewayUrl}/v1`,
      apiKey: "unused",
      maxRetries: 0,
    });
    await assert.rejects(
      client.chat.completions.create({
        model: "no-such-model",
        messages: [{ role: "user", content: "hi" }],
      }),
      (e: unknown) => e instanceof OpenAI.APIError && e.status === 503 && e.code === "no_host",
    );
    await assert.rejects(
      client.chat.completions.create({ model: MODEL, messages: [] }),
      (e: unknown) => e instanceof OpenAI.BadRequestError,
    );
    await assert.rejects(
      runPrompt(market.renter, { prompt: "hi", model: "no-such-model" }),
      NoHostError,
    );
    await assert.rejects(
      runPrompt(market.renter, { prompt: "  ", model: MODEL }),
      RenterUsageError,
    );
    await assert.rejects(showJob(market.renter, 10_000n), JobNotFoundError);

    // Input that once cost the renter money is refused with a 400 naming the field, before
    // any transaction: the renter's nonce does not move.
    const [listing] = await market.renter.discovery.hosts({ model: MODEL });
    assert.equal(listing?.contextLength, 1024);
    const nonce = () =>
      market.renter.chain.public.getTransactionCount({ address: market.renter.address });
    const nonceBefore = await nonce();
    const hi = [{ role: "user" as const, content: "hi" }];
    for (const max_tokens of [100_000_000, 5_000])
      await assert.rejects(
        client.chat.completions.create({ model: MODEL, messages: hi, max_tokens }),
        (e: unknown) =>
          e instanceof OpenAI.BadRequestError &&
          e.type === "invalid_request_error" &&
          e.param === "max_tokens",
      );
    await assert.rejects(
      client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "word ".repeat(40_000) }],
      }),
      (e: unknown) =>
        e instanceof OpenAI.BadRequestError &&
        e.type === "invalid_request_error" &&
        e.code === "context_length_exceeded" &&
        e.param === "messages",
    );
    // A prompt that fits, with max_tokens beyond what the context leaves after it.
    await assert.rejects(
      client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "word ".repeat(300) }],
        max_tokens: 1000,
      }),
      (e: unknown) =>
        e instanceof OpenAI.BadRequestError &&
        e.code === "context_length_exceeded" &&
        e.param === "max_tokens",
    );
    assert.equal(await nonce(), nonceBefore);

    // A renter who does not accept can dispute within the window; the indexer shows it.
    const held = await runPrompt(market.renter, {
      prompt: "A job the renter will dispute.",
      model: MODEL,
      maxTokens: 8,
      accept: false,
    });
    assert.equal(held.payment, undefined);
    assert.equal((await market.renter.job(held.jobId)).status, "Completed");
    await assert.rejects(
      disputeJob(market.renter, held.jobId, "a reason longer than thirty-two bytes"),
      RenterUsageError,
    );
    await disputeJob(market.renter, held.jobId, "meaningless answer");
    assert.equal((await market.renter.job(held.jobId)).status, "Disputed");
    await waitFor("the indexer to show the dispute", async () =>
      (await api(`/jobs/${held.jobId}`))?.status === "Disputed" ? true : undefined,
    );
  });

  it("resumes after a restart: the chain, balances and jobs come back, and new jobs work", async () => {
    const lastJob = (await market.renter.job(1n)).status;
    const host = market.hosts[0]?.address as `0x${string}`;
    const earned = await escrowBalance(host);
    await market.stop();
    market = await start(false);
    assert.equal(market.resumed, true);
    assert.equal((await market.renter.job(1n)).status, lastJob);
    assert.equal(await escrowBalance(host), earned);
    const r = await runPrompt(market.renter, {
      prompt: "After the restart.",
      model: MODEL,
      maxTokens: 8,
    });
    assert.equal(r.verified, true);
    await assertPaidExactly(r);
  });

  it("through the host CLI's functions: init, status, withdraw earnings, unstake", async () => {
    const created = await initHost({
      dir: path.join(dir, "new-host"),
      rpcUrl: market.file.rpcUrl,
      deploymentDir: market.file.deploymentDir,
      model: MODEL,
      modelPath: path.join(dir, "model.gguf"),
      pricePerToken: "1000",
      password: "a long enough password",
    });
    const fresh = await loadNodeConfig(created.config);
    const unknown = await hostStatus(fresh, {});
    assert.equal(unknown.address.toLowerCase(), created.address.toLowerCase());
    assert.equal(unknown.status, "Unregistered");
    await assert.rejects(
      initHost({
        ...{ dir: path.join(dir, "new-host") },
        rpcUrl: "",
        model: MODEL,
        modelPath: "",
        pricePerToken: "1",
        password: "a long enough password",
      }),
      /already holds/,
    );

    const env = { FABSTIR_KEYSTORE_PASSWORD: LOCAL_DEFAULTS.keystorePassword };
    const config = await loadNodeConfig(market.file.hosts[0]?.config as string);
    const before = await hostStatus(config, env);
    assert.equal(before.status, "Active");
    assert.ok(before.node, "the running node answers /health");
    const earned = before.earnings.find((e) => e.token === zeroAddress)?.amount ?? 0n;
    assert.ok(earned > 0n);
    const w = await withdrawEarnings(config, {}, env);
    assert.equal(w.amount, earned);
    const after = await hostStatus(config, env);
    assert.equal(after.earnings.find((e) => e.token === zeroAddress)?.amount, 0n);
    await assert.rejects(withdrawEarnings(config, {}, env), /nothing to withdraw/);

    // Host 1 still has the disputed job: its stake cannot leave yet. Host 2 has none.
    await assert.rejects(unstake(config, {}, env), HostCommandError);
    const config2 = await loadNodeConfig(market.file.hosts[1]?.config as string);
    const staked = (await hostStatus(config2, env)).stake;
    const u = await unstake(config2, {}, env);
    assert.equal(u.action, "requested");
    assert.equal(u.unbonding, staked);
    await waitFor("the API to stop listing the unstaked host", async () => {
      const hosts = await listHosts(market.renter, { model: MODEL });
      return hosts.some((h) => h.address === market.hosts[1]?.address.toLowerCase())
        ? undefined
        : true;
    });
  });
});
