/**
 * Sessions end to end, as `npm start` runs the marketplace: the official `openai` client
 * chats through the renter gateway; one transaction opens the session, none follows until the
 * close; the host is paid exactly what the renter's receipts say and the rest is refunded; a
 * host killed mid-session is replaced by another and the next request is still answered.
 */
import assert from "node:assert/strict";
import type OpenAI from "openai";
import { parseEventLogs, zeroAddress } from "viem";
import { afterAll, beforeAll, describe, it } from "vitest";
import { paymentEscrowAbi, sessionManagerAbi } from "../../abis/index.ts";
import { type E2eMarketplace, startE2eMarketplace } from "../../fixtures/e2e.ts";
import { LOCAL_DEFAULTS, type LocalMarketplace } from "../../local/marketplace.ts";
import { readSessionState } from "../../protocol/sessions.ts";

const MODEL = LOCAL_DEFAULTS.chatModel;
// biome-ignore lint/suspicious/noExplicitAny: API JSON, checked field by field
type Json = any;

describe("sessions end to end", () => {
  let e2e: E2eMarketplace;
  let market: LocalMarketplace;
  let client: OpenAI;

  const nonce = () =>
    market.renter.chain.public.getTransactionCount({ address: market.renter.address });
  const escrowBalance = (account: `0x${string}`) =>
    market.renter.chain.public.readContract({
      address: market.file.addresses.PaymentEscrow as `0x${string}`,
      abi: paymentEscrowAbi,
      functionName: "balanceOf",
      args: [account, zeroAddress],
    });

  beforeAll(async () => {
    e2e = await startE2eMarketplace("sessions");
    market = e2e.market;
    client = e2e.client;
  });
  afterAll(async () => {
    await e2e?.stop();
  });

  it("chats on one session: one transaction to open, none per answer, a top-up when low, exact payment and refund", async () => {
    const nonceBefore = await nonce();
    const answers: Json[] = [];
    for (let i = 0; i < 5; i++) {
      const request = {
        model: MODEL,
        messages: [{ role: "user" as const, content: `Question number ${i}: what is a GPU?` }],
        max_tokens: 8 + i,
        temperature: 0,
      };
      if (i % 2 === 0) {
        const stream = await client.chat.completions.create({
          ...request,
          stream: true,
          stream_options: { include_usage: true },
        });
        let text = "";
        let last: Json;
        for await (const chunk of stream) {
          text += chunk.choices[0]?.delta.content ?? "";
          last = chunk;
        }
        answers.push({ text, usage: last.usage, fabstir: last.fabstir });
      } else {
        const r = await client.chat.completions.create(request).withResponse();
        assert.equal(
          r.response.headers.get("x-fabstir-session"),
          (r.data as Json).fabstir.session_id,
        );
        answers.push({
          text: r.data.choices[0]?.message.content,
          usage: r.data.usage,
          fabstir: (r.data as Json).fabstir,
        });
      }
    }
    const sessionId = BigInt(answers[0].fabstir.session_id);
    for (const a of answers) assert.equal(BigInt(a.fabstir.session_id), sessionId);
    assert.deepEqual(
      answers.map((a) => a.fabstir.transactions),
      [1, 0, 0, 0, 0],
    );
    // One transaction opened the session; the answers sent none.
    assert.equal(await nonce(), nonceBefore + 1);
    // An answer the rest of the deposit (20 answers of the first max_tokens) cannot cover
    // tops the session up first: one more transaction, same session.
    const remaining = BigInt(answers[4].fabstir.remaining);
    const big = (await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "A longer answer, please." }],
      max_tokens: 300,
      temperature: 0,
    })) as Json;
    assert.equal(big.fabstir.session_id, answers[0].fabstir.session_id);
    assert.equal(big.fabstir.transactions, 1);
    assert.ok(BigInt(big.fabstir.remaining) > remaining - BigInt(big.fabstir.cost));
    answers.push({ text: big.choices[0].message.content, usage: big.usage, fabstir: big.fabstir });
    assert.equal(await nonce(), nonceBefore + 2);
    let spent = 0n;
    for (const a of answers) {
      spent += BigInt(a.fabstir.cost);
      assert.equal(BigInt(a.fabstir.spent), spent);
      assert.ok(a.usage.completion_tokens >= 1);
    }
    const price = BigInt(
      (await market.renter.discovery.hosts({ model: MODEL })).find(
        (h) => h.address.toLowerCase() === answers[0].fabstir.host.toLowerCase(),
      )?.pricePerToken ?? 0,
    );
    const tokens = answers.reduce((n, a) => n + a.usage.completion_tokens, 0);
    assert.equal(spent, BigInt(tokens) * price);

    // The gateway's close hands the last receipt to the host, which settles on chain.
    const host = answers[0].fabstir.host as `0x${string}`;
    const hostBefore = await escrowBalance(host);
    const renterBefore = await escrowBalance(market.renter.address);
    const [closed] = await market.renter.sessions.closeAll();
    assert.equal(closed?.how, "host");
    assert.equal(closed?.paid, spent);
    assert.equal(await nonce(), nonceBefore + 2, "the renter sent no transaction to close");
    const state = await readSessionState(
      market.renter.chain,
      market.file.addresses.SessionManager as `0x${string}`,
      sessionId,
    );
    assert.equal(state.status, "Settled");
    assert.equal(state.paid, spent);
    assert.equal(state.tokens, tokens);
    const receipt = await market.renter.chain.public.getTransactionReceipt({
      hash: closed?.transactionHash as `0x${string}`,
    });
    const [released] = parseEventLogs({
      abi: paymentEscrowAbi,
      eventName: "PaymentReleased",
      logs: receipt.logs,
    });
    const [settled] = parseEventLogs({
      abi: sessionManagerAbi,
      eventName: "SessionSettled",
      logs: receipt.logs,
    });
    assert.ok(released && settled);
    const a = released.args;
    assert.equal(a.hostAmount + a.treasuryAmount + a.stakersAmount, spent);
    assert.equal(a.hostAmount, (spent * 8_500n) / 10_000n);
    assert.equal(a.refund, state.deposit - spent);
    assert.equal(settled.args.refund, state.deposit - spent);
    assert.equal((await escrowBalance(host)) - hostBefore, a.hostAmount);
    assert.equal((await escrowBalance(market.renter.address)) - renterBefore, a.refund);
  });

  it("fails over: a host killed mid-session is replaced and the next request is answered", async () => {
    const ask = (content: string) =>
      client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content }],
        max_tokens: 6,
        temperature: 0,
      }) as Promise<Json>;
    const first = await ask("Before the host goes away.");
    const firstHost = first.fabstir.host.toLowerCase();
    const victim = market.hosts.find((h) => h.address.toLowerCase() === firstHost);
    assert.ok(victim);
    await victim.node.stop();
    const next = await ask("After the host went away.");
    assert.notEqual(next.fabstir.host.toLowerCase(), firstHost);
    assert.notEqual(next.fabstir.session_id, first.fabstir.session_id);
    assert.equal(next.fabstir.transactions, 1);
    assert.ok(next.choices[0].message.content.length > 0);
  });
});
