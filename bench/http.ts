/**
 * Streaming overhead of the node's HTTP API (server-sent events) against calling the
 * generator directly, in the same process and run: the same request at temperature 0,
 * alternating direct and HTTP runs so drift hits both alike. Reported: tokens/s of each and
 * their ratio (target >= 0.98), and the delay each token picks up between the moment the
 * generator yields it and the moment the HTTP client has parsed it (target <= 1 ms at p99).
 * Both ends are in this process, so one clock times both.
 *
 * `npm run bench:http`. BENCH_CHAT_MODEL picks another generated model (default the
 * SmolLM-135M shape); BENCH_THREADS the threads; BENCH_RUNS the pairs (default 9).
 */
import { mkdir, stat } from "node:fs/promises";
import path from "node:path";
import { parseNodeConfig } from "../node/config.ts";
import { DEFAULT_THREADS } from "../node/constants.ts";
import { createHttpApp } from "../node/http/server.ts";
import { createInferenceService } from "../node/inference/service.ts";
import type { GenerateRequest, Generator } from "../node/inference/types.ts";
import { generateModel, type ModelName } from "../node/models/generate.ts";
import { DEFAULT_MODELS_DIR } from "../node/models/paths.ts";
import { createRequestHandler } from "../node/serving/handler.ts";
import { startHttpServer } from "../protocol/http-server.ts";
import type { GenerationEvent } from "../protocol/wire.ts";
import { fmt, median, percentile, printTable, verdict } from "./lib/stats.ts";

const CHAT = (process.env.BENCH_CHAT_MODEL ?? "fabstir-smollm-135m-shape") as ModelName;
const THREADS = Number(process.env.BENCH_THREADS ?? DEFAULT_THREADS);
const RUNS = Number(process.env.BENCH_RUNS ?? 9);
const TOKENS = 128;
const KEY = "bench-operator-key-0123456789";

const file = path.join(DEFAULT_MODELS_DIR, `${CHAT}.gguf`);
if (!(await stat(file).catch(() => undefined))) {
  console.log(`generating ${CHAT} ...`);
  await mkdir(DEFAULT_MODELS_DIR, { recursive: true });
  await generateModel(CHAT, file);
}
const service = createInferenceService(
  parseNodeConfig(
    {
      models: [{ id: CHAT, path: file, role: "chat" }],
      gpu: false,
      threads: THREADS,
      engine: { sequences: 1 },
      cache: { enabled: false },
    },
    process.cwd(),
  ),
);
await service.start();

/** When the generator yielded each token, for the run in progress. */
let emitted: number[] = [];
const timed: Generator = {
  modelId: CHAT,
  async *generate(request: GenerateRequest): AsyncGenerator<GenerationEvent, void, undefined> {
    for await (const e of service.generator(CHAT).generate(request)) {
      if (e.type === "token") emitted.push(performance.now());
      yield e;
    }
  },
};
const handler = createRequestHandler({
  service: { ...service, generator: () => timed },
  apiKeys: [KEY],
  capabilities: () => ({ version: "bench", models: [], load: { running: 0, queued: 0, slots: 1 } }),
});
const server = await startHttpServer(createHttpApp({ handler }));

const messages = [
  { role: "user" as const, content: "write a long story about a host and a renter" },
];

async function direct() {
  const start = performance.now();
  let tokens = 0;
  for await (const e of service.generator(CHAT).generate({
    messages,
    params: { temperature: 0, maxTokens: TOKENS },
  }))
    if (e.type === "done") tokens = e.usage.completionTokens;
  return { tokens, seconds: (performance.now() - start) / 1000 };
}

async function overHttp() {
  emitted = [];
  const arrived: number[] = [];
  const start = performance.now();
  const res = await fetch(`${server.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
    body: JSON.stringify({
      model: CHAT,
      messages,
      temperature: 0,
      max_tokens: TOKENS,
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  const decoder = new TextDecoder();
  let buffer = "";
  let tokens = 0;
  for await (const bytes of res.body as ReadableStream<Uint8Array>) {
    buffer += decoder.decode(bytes, { stream: true });
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf("\n\n");
      const data = event.replace(/^data: /, "");
      if (data === "[DONE]") continue;
      const chunk = JSON.parse(data) as {
        choices: { delta: { content?: string } }[];
        usage?: { completion_tokens: number };
      };
      if (chunk.choices[0]?.delta.content) arrived.push(performance.now());
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
    }
  }
  const seconds = (performance.now() - start) / 1000;
  // Tokens that end mid-character are held back and sent with the next one; pair the last ones.
  const delays = arrived.map((t, i) => t - (emitted[i + (emitted.length - arrived.length)] ?? t));
  return { tokens, seconds, delays };
}

await direct();
await overHttp();
const ratios: number[] = [];
const directRates: number[] = [];
const httpRates: number[] = [];
const delays: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const d = await direct();
  const h = await overHttp();
  directRates.push(d.tokens / d.seconds);
  httpRates.push(h.tokens / h.seconds);
  ratios.push(h.tokens / h.seconds / (d.tokens / d.seconds));
  delays.push(...h.delays);
}
const ratio = median(ratios);
const p99 = percentile(delays, 99);
console.log(
  `\nSSE streaming overhead: ${CHAT}, ${THREADS} threads, ${TOKENS} tokens, ${RUNS} paired runs\n`,
);
printTable([
  ["path", "tokens/s (median)", "per-token delay p50 ms", "p99 ms", "target"],
  ["generator directly", fmt(median(directRates)), "-", "-", "baseline"],
  [
    "HTTP SSE",
    fmt(median(httpRates)),
    fmt(percentile(delays, 50), 3),
    fmt(p99, 3),
    `ratio ${fmt(ratio, 3)} (${verdict(ratio >= 0.98)}); p99 ${verdict(p99 <= 1)}`,
  ],
]);
await server.close();
await service.stop();
