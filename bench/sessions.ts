/**
 * What a chat costs through the renter gateway, on sessions against per-request jobs, with
 * the host's own API as the baseline, all measured in one run on the local marketplace
 * (local/marketplace.ts, one host, ports 0, a temp folder) with the chain mining a block
 * every 2 s as Base does (automine off, interval mining on, set on Hardhat's node after the
 * marketplace has started). The official `openai` client sends 10 consecutive streaming chat
 * requests (fabstir-tiny-chat, max_tokens 32, temperature 0, the semantic cache off and
 * every prompt different) each way:
 *
 *   host directly   the host's OpenAI-compatible API with an operator key (the marketplace's
 *                   `hostApiKey` option puts one in the host's http.apiKeys): no payment
 *   jobs            a second gateway on the same renter with mode "job": post, claim,
 *                   complete and accept one marketplace job per request
 *   session         the marketplace's own gateway (sessions, the default): the first request
 *                   opens a session (one transaction), later ones carry receipts; the session
 *                   is closed at the end (the host settles it on chain)
 *
 * The session's answers and the direct ones take turns (as bench/http.ts rotates its paths),
 * so that drift in the machine's load hits the baseline and the session alike; the jobs run
 * after the session is closed. Per way: time to the first token (first chunk with text, from
 * the moment the request is made) and to the end of the answer ([DONE]; for a job, after its
 * acceptance), p50 and p99 (of 10 answers, p99 is the slowest); transactions per answer (the
 * renter's and the host's nonce deltas) and gas per answer (gasUsed of every renter and host
 * transaction in the blocks mined meanwhile, checked against the nonce deltas). The session
 * is reported as its first answer (with the opening), the answers after it, and the whole
 * session (every answer, the opening and the close). Targets: session answers after the
 * first have a time to first token within 50 ms of the host directly (p50 and p99) and send
 * no transaction.
 *
 *   npm run bench:sessions
 *
 * BENCH_ANSWERS (default 10) and BENCH_BLOCK_MS (default 2000) change the run.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import path from "node:path";
import OpenAI from "openai";
import type { ChatCompletionCreateParamsStreaming } from "openai/resources/chat/completions";
import { createTestClient, http } from "viem";
import { hardhat } from "viem/chains";
import { LOCAL_DEFAULTS, startLocalMarketplace } from "../local/marketplace.ts";
import { startHttpServer } from "../protocol/http-server.ts";
import type { CacheMode } from "../protocol/wire.ts";
import { createGatewayApp } from "../renter/gateway.ts";
import { fmt, percentile, printTable, verdict } from "./lib/stats.ts";

const ANSWERS = Number(process.env.BENCH_ANSWERS ?? 10);
const BLOCK_MS = Number(process.env.BENCH_BLOCK_MS ?? 2000);
const MAX_TOKENS = 32;
const MODEL = LOCAL_DEFAULTS.chatModel;
const KEY = "bench-operator-key-0123456789";
const TTFT_MARGIN_MS = 50;
const TOPICS = [
  "what a GPU does",
  "why blocks have a gas limit",
  "how a lighthouse keeper spends winter",
  "the rules of chess in brief",
  "how bread rises",
  "what a peer-to-peer network is",
  "why the sky is blue",
  "how to tune a guitar",
  "what an escrow is for",
  "how tides work",
];

// biome-ignore lint/suspicious/noExplicitAny: the gateway's `fabstir` object, read field by field
type Json = any;

interface Timing {
  ttft: number;
  total: number;
  tokens: number;
  fabstir: Json;
}

/** One streamed chat completion, timed at the client. */
async function ask(client: OpenAI, content: string): Promise<Timing> {
  const body: ChatCompletionCreateParamsStreaming & { cache: CacheMode } = {
    model: MODEL,
    messages: [{ role: "user", content }],
    max_tokens: MAX_TOKENS,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
    // Not OpenAI's: the semantic cache neither answers nor stores (protocol/openai.ts).
    cache: "off",
  };
  const start = performance.now();
  let ttft = Number.NaN;
  let tokens = 0;
  let fabstir: Json;
  for await (const chunk of await client.chat.completions.create(body)) {
    if (Number.isNaN(ttft) && chunk.choices[0]?.delta.content) ttft = performance.now() - start;
    if (chunk.usage) tokens = chunk.usage.completion_tokens;
    fabstir = (chunk as Json).fabstir ?? fabstir;
  }
  if (fabstir?.cached === true) throw new Error(`"${content}" was answered from the cache`);
  return { ttft, total: performance.now() - start, tokens, fabstir };
}

const dir = await mkdtemp(path.join(tmpdir(), "fabstir-bench-sessions-"));
console.log(`starting the local marketplace in ${dir} (one host, ports 0) ...`);
const market = await startLocalMarketplace({
  dataDir: dir,
  fresh: true,
  hosts: 1,
  chainPort: 0,
  apiPort: 0,
  gatewayPort: 0,
  hostPort: 0,
  arbiterPort: 0,
  // The baseline and the gateway see the same host load: no spot-checks.
  spotCheckRate: 0,
  hostApiKey: KEY,
});
const [host] = market.hosts;
if (!host) throw new Error("the marketplace started no host");
const jobGateway = await startHttpServer(createGatewayApp({ renter: market.renter, mode: "job" }));
const pub = market.renter.chain.public;
const accounts = [market.renter.address, host.address];
const mine = (a: string) => accounts.some((b) => b.toLowerCase() === a.toLowerCase());

try {
  // Base's block time: Hardhat's node (EDR) mines a block every BLOCK_MS, not one per transaction.
  const test = createTestClient({
    mode: "hardhat",
    chain: hardhat,
    transport: http(market.file.rpcUrl),
  });
  await test.setAutomine(false);
  await test.setIntervalMining({ interval: BLOCK_MS / 1000 });
  // Time the interval from the first block it mines.
  const before = await pub.getBlockNumber();
  while ((await pub.getBlockNumber()) === before) await new Promise((r) => setTimeout(r, 50));
  const b0 = await pub.getBlock();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, 3 * BLOCK_MS + BLOCK_MS / 2));
  const b1 = await pub.getBlock();
  const blocks = Number(b1.number - b0.number);
  if (blocks < 2)
    throw new Error(`interval mining is not on: ${blocks} blocks in ${3.5 * BLOCK_MS} ms`);
  console.log(
    `chain: automine off, interval mining ${BLOCK_MS} ms: ${blocks} blocks in ${fmt((performance.now() - t0) / 1000)} s, ${fmt(Number(b1.timestamp - b0.timestamp) / blocks)} s apart on chain`,
  );

  /** Once nothing of the renter's or the host's is pending: the block and their nonces. */
  async function mark() {
    for (let i = 0; ; i++) {
      const counts = await Promise.all(
        accounts.flatMap((address) => [
          pub.getTransactionCount({ address, blockTag: "latest" }),
          pub.getTransactionCount({ address, blockTag: "pending" }),
        ]),
      );
      if (counts.every((n, j) => j % 2 === 1 || n === counts[j + 1])) {
        const [renter = 0, , hostTx = 0] = counts;
        return { block: await pub.getBlockNumber(), renter, host: hostTx };
      }
      if (i > 50) throw new Error("transactions still pending after 25 s");
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  type Mark = Awaited<ReturnType<typeof mark>>;

  /** Transactions and gas of the renter and the host between two marks. */
  async function cost(from: Mark, to: Mark) {
    let gas = 0n;
    let mined = 0;
    for (let n = from.block + 1n; n <= to.block; n++) {
      const block = await pub.getBlock({ blockNumber: n, includeTransactions: true });
      for (const tx of block.transactions) {
        if (!mine(tx.from)) continue;
        gas += (await pub.getTransactionReceipt({ hash: tx.hash })).gasUsed;
        mined++;
      }
    }
    const renter = to.renter - from.renter;
    const hostTx = to.host - from.host;
    if (mined !== renter + hostTx)
      throw new Error(`${mined} transactions mined, but the nonces moved ${renter + hostTx}`);
    return { renter, host: hostTx, gas };
  }

  const openai = (baseURL: string, apiKey = "unused") =>
    new OpenAI({ baseURL: `${baseURL}/v1`, apiKey, maxRetries: 0, timeout: 120_000 });
  const toHost = openai(host.url, KEY);
  const toGateway = openai(market.gateway.url);
  const toJobGateway = openai(jobGateway.url);
  const question = (way: string, i: number) =>
    `${way} question ${i + 1}: ${TOPICS[i % TOPICS.length]}?`;

  await ask(toHost, "warm-up question"); // not counted
  // The host directly and the session take turns (which goes first alternates), so that
  // drift in this machine's load hits the baseline and the session alike. A direct answer
  // sends no transaction: all that the renter and the host send meanwhile counts against
  // the session.
  console.log(
    `one session through the gateway and the host directly in turn, ${ANSWERS} answers each, then the close ...`,
  );
  const direct: Timing[] = [];
  const session: Timing[] = [];
  const s0 = await mark();
  let s1: Mark | undefined;
  for (let i = 0; i < ANSWERS; i++) {
    const turns = [
      async () => direct.push(await ask(toHost, question("direct", i))),
      async () => {
        session.push(await ask(toGateway, question("session", i)));
        if (i === 0) s1 = await mark();
      },
    ];
    if (i % 2 === 1) turns.reverse();
    for (const turn of turns) await turn();
  }
  const s2 = await mark();
  const closeStart = performance.now();
  const closed = await market.renter.sessions.closeAll();
  const closeMs = performance.now() - closeStart;
  const s3 = await mark();
  const [firstCost, laterCost, closeCost] = [
    await cost(s0, s1 ?? s2),
    await cost(s1 ?? s2, s2),
    await cost(s2, s3),
  ];

  console.log(`per-request jobs through a gateway with mode "job", ${ANSWERS} answers ...`);
  const j0 = await mark();
  const jobs: Timing[] = [];
  for (let i = 0; i < ANSWERS; i++) jobs.push(await ask(toJobGateway, question("job", i)));
  const jobCost = await cost(j0, await mark());

  for (const t of [...session, ...jobs])
    if (t.fabstir?.host?.toLowerCase() !== host.address.toLowerCase())
      throw new Error(`an answer came from ${t.fabstir?.host}, not ${host.address}`);
  const sessionIds = new Set(session.map((t) => t.fabstir.session_id));
  if (sessionIds.size !== 1) throw new Error(`${sessionIds.size} sessions answered, not one`);

  type Cost = Awaited<ReturnType<typeof cost>>;
  const q = (ts: Timing[], key: "ttft" | "total", p: number) =>
    percentile(
      ts.map((t) => t[key]),
      p,
    );
  const row = (way: string, ts: Timing[], c: Cost | undefined, note = "") => [
    way,
    ts.length,
    fmt(ts.reduce((n, t) => n + t.tokens, 0) / ts.length),
    fmt(q(ts, "ttft", 50)),
    fmt(q(ts, "ttft", 99)),
    fmt(q(ts, "total", 50)),
    fmt(q(ts, "total", 99)),
    c ? `${fmt((c.renter + c.host) / ts.length, 2)} (${c.renter}+${c.host})` : "-",
    c ? fmt(Number(c.gas) / ts.length, 0) : "-",
    note,
  ];
  const sum = (...cs: Cost[]): Cost => ({
    renter: cs.reduce((n, c) => n + c.renter, 0),
    host: cs.reduce((n, c) => n + c.host, 0),
    gas: cs.reduce((n, c) => n + c.gas, 0n),
  });
  const later = session.slice(1);
  console.log(
    `\nChat through the renter gateway: ${MODEL}, max_tokens ${MAX_TOKENS}, ${ANSWERS} consecutive streamed answers each way, a block every ${BLOCK_MS} ms; load average ${loadavg()
      .map((l) => fmt(l, 2))
      .join(" ")} on ${availableParallelism()} cores\n`,
  );
  printTable([
    [
      "way",
      "answers",
      "tokens/answer",
      "TTFT p50 ms",
      "TTFT p99 ms",
      "total p50 ms",
      "total p99 ms",
      "tx/answer (renter+host)",
      "gas/answer",
      "note",
    ],
    row("host directly (operator key)", direct, undefined, "baseline: unpaid, no transaction"),
    row("per-request jobs (mode job)", jobs, jobCost, "post, claim, complete, accept"),
    row("session: first answer", session.slice(0, 1), firstCost, "includes the opening"),
    row("session: answers after the first", later, laterCost),
    row("session: all answers", session, sum(firstCost, laterCost)),
    row(
      "session: whole session",
      session,
      sum(firstCost, laterCost, closeCost),
      `with the close (${fmt(closeMs, 0)} ms, ${closed.length} settled by ${closed.map((c) => c.how).join(", ")})`,
    ),
  ]);
  console.log();
  for (const [way, ts] of [
    ["host directly", direct],
    ["jobs", jobs],
    ["session", session],
  ] as const)
    console.log(`TTFT ms, answer by answer, ${way}: ${ts.map((t) => fmt(t.ttft)).join(" ")}`);
  console.log();
  for (const n of [50, 99]) {
    const [ours, base] = [q(later, "ttft", n), q(direct, "ttft", n)];
    const extra = ours - base;
    console.log(
      `session answers after the first, TTFT p${n}: ${fmt(ours)} ms vs ${fmt(base)} ms to the host directly (${extra >= 0 ? "+" : ""}${fmt(extra)} ms; target <= +${TTFT_MARGIN_MS} ms): ${verdict(extra <= TTFT_MARGIN_MS)}`,
    );
  }
  const sent = laterCost.renter + laterCost.host;
  console.log(
    `session answers after the first, transactions sent: ${sent} (renter ${laterCost.renter}, host ${laterCost.host}; target 0): ${verdict(sent === 0)}`,
  );
} finally {
  await jobGateway.close();
  await market.stop();
  await rm(market.file.deploymentDir, { recursive: true, force: true });
  await rm(dir, { recursive: true, force: true });
}
