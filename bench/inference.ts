/**
 * Host node inference benchmarks (issue 4), each against a baseline measured in the same
 * run, on the generated models (node-llama-cpp on the CPU here; the same script runs on a
 * GPU host with the CUDA build):
 *
 *   node bench/inference.ts            (npm run bench:inference)
 *
 * 1. Engine overhead: tokens/s and time to first token through the engine (chat template,
 *    streaming, detokenizing, stop filter, slot queue) against a bare node-llama-cpp
 *    evaluate loop over the same prompt tokens, same model, context and threads.
 * 2. Aggregate throughput of the engine at 1, 4 and 8 concurrent requests.
 * 3. Semantic cache lookups at 10k and 100k entries (LanceDB; the vector index is built at
 *    20k), with the embedding alone as the baseline of the semantic path.
 * 4. A cache hit against generating the same answer.
 *
 * Targets: engine/bare >= 0.95; cache lookup p50 <= 5 ms at 100k; hit >= 100x faster.
 * BENCH_CHAT_MODEL / BENCH_EMBED_MODEL pick other generated models (default the SmolLM-135M
 * and MiniLM-L6 shapes); BENCH_THREADS overrides the thread count.
 */
import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type LlamaModel, resolveChatWrapper } from "node-llama-cpp";
import { withSemanticCache } from "../node/cache/cached-generator.ts";
import { type CacheScope, createSemanticCache } from "../node/cache/semantic-cache.ts";
import { DEFAULT_THREADS } from "../node/constants.ts";
import { createEmbedder } from "../node/inference/embedder.ts";
import { createInferenceEngine, resolveParams } from "../node/inference/engine.ts";
import type { GenerateRequest } from "../node/inference/types.ts";
import { generateModel, type ModelName } from "../node/models/generate.ts";
import { createModelManager } from "../node/models/manager.ts";
import { DEFAULT_MODELS_DIR } from "../node/models/paths.ts";
import type { ChatMessage } from "../protocol/wire.ts";
import { fmt, median, percentile, printTable, verdict } from "./lib/stats.ts";

const CHAT = (process.env.BENCH_CHAT_MODEL ?? "fabstir-smollm-135m-shape") as ModelName;
const EMBED = (process.env.BENCH_EMBED_MODEL ?? "fabstir-minilm-l6-shape") as ModelName;
const THREADS = Number(process.env.BENCH_THREADS ?? DEFAULT_THREADS);
const TOKENS = 64;
const RUNS = 9;

async function modelFile(name: ModelName): Promise<string> {
  const file = path.join(DEFAULT_MODELS_DIR, `${name}.gguf`);
  if (!(await stat(file).catch(() => undefined))) {
    console.log(`generating ${name} ...`);
    await mkdir(DEFAULT_MODELS_DIR, { recursive: true });
    await generateModel(name, file);
  }
  return file;
}

const user = (content: string): ChatMessage[] => [{ role: "user", content }];
const now = () => performance.now();

const manager = createModelManager({
  models: [
    { id: CHAT, path: await modelFile(CHAT), role: "chat" },
    { id: EMBED, path: await modelFile(EMBED), role: "embedding" },
  ],
});
await manager.start();
const compute = await manager.compute();
console.log(
  `chat model ${CHAT}, embedding model ${EMBED}; backend ${compute.gpu || "cpu"}, ${THREADS} thread(s), ${compute.cpuCores} cores`,
);

// 1. Engine against bare node-llama-cpp.
const chat = await manager.acquire(CHAT);
const prompt = user("Write a short story about a lighthouse keeper and a storm.");
const params = { maxTokens: TOKENS, temperature: 0 };

/** The prompt tokens of one user message through the model's chat template, without the engine. */
function bareTokens(model: LlamaModel, text: string) {
  return resolveChatWrapper(model)
    .generateContextState({
      chatHistory: [
        { type: "user", text },
        { type: "model", response: [] },
      ],
    })
    .contextText.tokenize(model.tokenizer);
}

async function bareRun(
  model: LlamaModel,
  sequence: Awaited<ReturnType<typeof bareContext>>["seq"],
) {
  const tokens = bareTokens(model, prompt[0]?.content ?? "");
  const start = now();
  let first = 0;
  let n = 0;
  for await (const _ of sequence.evaluate(tokens, { temperature: 0 })) {
    if (n === 0) first = now() - start;
    if (++n >= TOKENS) break;
  }
  const total = now() - start;
  await sequence.clearHistory();
  return { ttft: first, tps: n / (total / 1000), tokens: n };
}
async function bareContext(model: LlamaModel) {
  const ctx = await model.createContext({ contextSize: 2_048, sequences: 1, threads: THREADS });
  return { ctx, seq: ctx.getSequence() };
}

const engine1 = createInferenceEngine({
  manager,
  modelId: CHAT,
  contextSize: 2_048,
  sequences: 1,
  threads: THREADS,
});
await engine1.start();
async function engineRun(engine: typeof engine1, request: GenerateRequest) {
  const start = now();
  let first = 0;
  let tokens = 0;
  for await (const e of engine.generate(request)) {
    if (e.type === "token" && first === 0) first = now() - start;
    if (e.type === "done") tokens = e.usage.completionTokens;
  }
  const total = now() - start;
  return { ttft: first, tps: tokens / (total / 1000), tokens };
}

const bare = await bareContext(chat.model);
await bareRun(chat.model, bare.seq); // warm-up
await engineRun(engine1, { messages: prompt, params });
type Run = { ttft: number; tps: number; tokens: number };
const bareRuns: Run[] = [];
const engineRuns: Run[] = [];
for (let i = 0; i < RUNS; i++) {
  bareRuns.push(await bareRun(chat.model, bare.seq));
  engineRuns.push(await engineRun(engine1, { messages: prompt, params, cache: "off" }));
}
await bare.ctx.dispose();
const bareTps = median(bareRuns.map((r) => r.tps));
const engineTps = median(engineRuns.map((r) => r.tps));
const bareTtft = median(bareRuns.map((r) => r.ttft));
const engineTtft = median(engineRuns.map((r) => r.ttft));
// Each engine run is paired with the bare run just before it; the median of the pairs'
// ratios resists the drift of a shared machine better than a ratio of medians.
const pairRatio = median(engineRuns.map((r, i) => r.tps / (bareRuns[i]?.tps ?? Number.NaN)));
console.log(
  `\n1. Engine vs bare node-llama-cpp (${TOKENS} tokens, greedy, median of ${RUNS} alternating runs)`,
);
printTable([
  ["path", "tokens/s", "time to first token (ms)"],
  ["bare evaluate loop (baseline)", fmt(bareTps), fmt(bareTtft)],
  ["engine", fmt(engineTps), fmt(engineTtft)],
  ["ratio engine/bare (of medians)", fmt(engineTps / bareTps, 3), fmt(engineTtft / bareTtft, 3)],
]);
console.log(
  `   tokens/s ratio, median of paired runs ${fmt(pairRatio, 3)}: ${verdict(pairRatio >= 0.95)} (>= 0.95)`,
);
await engine1.stop();

// 2. Aggregate throughput at 1, 4 and 8 concurrent requests, against bare node-llama-cpp
// running the same number of sequences concurrently in one context of the same shape.
const engine8 = createInferenceEngine({
  manager,
  modelId: CHAT,
  contextSize: 1_024,
  sequences: 8,
  threads: THREADS,
});
await engine8.start();
const bare8 = await chat.model.createContext({
  contextSize: 1_024,
  sequences: 8,
  threads: THREADS,
});
const bareSeqs = Array.from({ length: 8 }, () => bare8.getSequence());
const question = (i: number) => user(`Question ${i}: describe a city at night.`);
async function bareConcurrent(n: number): Promise<number> {
  const start = now();
  let total = 0;
  await Promise.all(
    bareSeqs.slice(0, n).map(async (seq, i) => {
      const tokens = bareTokens(chat.model, question(i)[0]?.content ?? "");
      let k = 0;
      for await (const _ of seq.evaluate(tokens, { temperature: 0 })) {
        total++;
        if (++k >= TOKENS) break;
      }
      await seq.clearHistory();
    }),
  );
  return total / ((now() - start) / 1000);
}
console.log(
  `\n2. Aggregate throughput (${TOKENS} tokens per request, distinct prompts, one context of 8 sequences)`,
);
const rows: (string | number)[][] = [
  [
    "concurrent requests",
    "engine total tokens/s",
    "bare total tokens/s (baseline)",
    "ratio",
    "engine per request tokens/s",
  ],
];
for (const n of [1, 4, 8]) {
  const bareTotal = await bareConcurrent(n);
  const start = now();
  const results = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      engineRun(engine8, { messages: question(i), params, cache: "off" }),
    ),
  );
  const wall = (now() - start) / 1000;
  const total = results.reduce((s, r) => s + r.tokens, 0) / wall;
  rows.push([
    n,
    fmt(total),
    fmt(bareTotal),
    fmt(total / bareTotal, 3),
    fmt(median(results.map((r) => r.tps))),
  ]);
}
printTable(rows);
await bare8.dispose();

// 3. Semantic cache lookups at 10k and 100k entries.
const embedder = createEmbedder({ manager, modelId: EMBED, threads: THREADS });
await embedder.start();
const dir = await mkdtemp(path.join(tmpdir(), "fabstir-bench-cache-"));
const cache = createSemanticCache({ dir, embedder });
await cache.start();
const scope: CacheScope = {
  modelId: CHAT,
  modelSha256: chat.sha256,
  params: resolveParams(params),
};
const words =
  "river stone light cloud market engine garden letter window silver forest number paper voice ocean bridge".split(
    " ",
  );
const text = (i: number) =>
  `${[0, 1, 2, 3, 4, 5].map((k) => words[(i * (7 * k + 3) + k * k) % words.length]).join(" ")} item ${i}`;
const DISTINCT = 1_000;
const embedStart = now();
const base: Float32Array[] = [];
for (let i = 0; i < DISTINCT; i++) base.push(await embedder.embed(text(i)));
const embedMs: number[] = [];
for (let i = 0; i < 100; i++) {
  const t = now();
  await embedder.embed(`${text(i)} ?`);
  embedMs.push(now() - t);
}
console.log(
  `\n3. Cache lookups (embedded ${DISTINCT} texts in ${fmt((now() - embedStart) / 1000, 1)} s; other rows are noisy copies of them)`,
);
const answer = {
  chunks: ["cached"],
  text: "cached",
  finishReason: "stop" as const,
  usage: { promptTokens: 9, completionTokens: 1 },
};
let seed = 1;
const noise = () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
  return (seed / 2_147_483_648 - 0.5) * 0.2;
};
async function fill(to: number) {
  let rows = (await cache.stats(scope)).rows;
  while (rows < to) {
    const batch = [];
    for (let i = rows; i < Math.min(to, rows + 5_000); i++) {
      const v = base[i % DISTINCT] as Float32Array;
      const vector = i < DISTINCT ? v : v.map((x) => x + noise());
      batch.push({
        messages: user(i < DISTINCT ? text(i) : `${text(i % DISTINCT)} copy ${i}`),
        answer,
        vector,
      });
    }
    await cache.importEntries(scope, batch);
    rows += batch.length;
  }
  await cache.maintain(scope);
}
const lookupRows: (string | number)[][] = [
  [
    "entries",
    "index",
    "exact hit p50/p99 (ms)",
    "vector search p50/p99 (ms)",
    "full semantic lookup p50/p99 (ms)",
    "semantic hits",
  ],
];
const lookupP50: Record<number, number> = {};
for (const size of [10_000, 100_000]) {
  const t = now();
  await fill(size);
  const fillS = (now() - t) / 1000;
  const { indexed } = await cache.stats(scope);
  const exact: number[] = [];
  const near: number[] = [];
  const search: number[] = [];
  let nearHits = 0;
  for (let i = 0; i < 200; i++) {
    let s = now();
    await cache.lookup(scope, user(text((i * 37) % DISTINCT)));
    exact.push(now() - s);
    s = now();
    if (await cache.lookup(scope, user(`${text((i * 53) % DISTINCT)} ?`))) nearHits++;
    near.push(now() - s);
    const vector = base[(i * 71) % DISTINCT]?.map((x) => x + noise()) as Float32Array;
    s = now();
    await cache.nearest(scope, vector);
    search.push(now() - s);
  }
  lookupP50[size] = Math.max(median(exact), median(search));
  lookupRows.push([
    `${size} (filled in ${fmt(fillS, 1)} s)`,
    indexed ? "IVF_FLAT + scalar" : "none (flat)",
    `${fmt(median(exact), 2)} / ${fmt(percentile(exact, 99), 2)}`,
    `${fmt(median(search), 2)} / ${fmt(percentile(search, 99), 2)}`,
    `${fmt(median(near), 2)} / ${fmt(percentile(near, 99), 2)}`,
    `${nearHits}/200`,
  ]);
}
printTable(lookupRows);
console.log(
  `   baseline: one embedding alone p50 ${fmt(median(embedMs), 2)} ms (the full semantic lookup = exact-key miss + embedding + vector search)`,
);
console.log(
  `   exact hit and vector search p50 at 100k <= ${fmt(lookupP50[100_000] ?? Number.NaN, 2)} ms: ${verdict((lookupP50[100_000] ?? 99) <= 5)} (<= 5 ms; the embedding comes on top)`,
);

// 4. A hit against generating the same answer.
const cached = withSemanticCache(engine8, cache, { modelSha256: chat.sha256 });
const hitReq: GenerateRequest = {
  messages: user("Explain how a lighthouse works."),
  params: { maxTokens: 128 },
};
const timeIt = async () => {
  const t = now();
  let isCached = false;
  for await (const e of cached.generate(hitReq)) if (e.type === "done") isCached = e.cached;
  return { ms: now() - t, isCached };
};
const miss = await timeIt();
await cached.flush();
const hits = [];
for (let i = 0; i < 20; i++) hits.push(await timeIt());
const hitMs = median(hits.map((h) => h.ms));
console.log("\n4. Cache hit against generation (128 tokens)");
printTable([
  ["", "time (ms)", "from cache"],
  ["generated (baseline)", fmt(miss.ms), String(miss.isCached)],
  ["cache hit (median of 20)", fmt(hitMs, 2), String(hits.every((h) => h.isCached))],
]);
console.log(
  `   speed-up ${fmt(miss.ms / hitMs, 0)}x: ${verdict(miss.ms / hitMs >= 100)} (>= 100x)`,
);

await cache.stop();
await rm(dir, { recursive: true, force: true });
await embedder.stop();
await engine8.stop();
chat.release();
await manager.stop();
