/**
 * Streaming overhead of the node's HTTP API (server-sent events) against the engine's own
 * rate, in the same process and run: the same request at temperature 0, in rotating order so
 * drift hits every path alike. Baseline: the engine on this thread, read directly. Paths: the
 * engine in its worker process (the node's default) read directly, and three servers: the
 * worker-process engine with the node's default token interval (node/serving/coalesce.ts:
 * tokens that come sooner than the interval after the last chunk go out together in the next
 * one) and with none, and the engine on the server's thread with the default interval.
 * Reported: tokens/s of each, streaming (the tokens after the first, over the time from the
 * first to the end) and end to end (from the request), the streaming ratio to the generator
 * (target >= 0.98), and the delay each token picks up between the moment the generator
 * yields it and the moment the HTTP client has parsed the chunk that carries it, matched by
 * its place in the text (target: the token interval + 1 ms at p99; a token held for the
 * interval is held on purpose). Both ends are in this process, so one clock times both.
 *
 * `npm run bench:http`. BENCH_CHAT_MODEL picks another generated model (default the
 * SmolLM-135M shape, about 100 tokens/s on a CPU: no token is ever held; fabstir-tiny-chat
 * streams thousands per second, as a GPU would); BENCH_TOKEN_INTERVAL the paced server's
 * interval (ms); BENCH_THREADS the threads; BENCH_RUNS the rounds (default 9); BENCH_PIN=1
 * gives the engine's worker process a core of its own (bench/lib/pin.ts).
 */
import { mkdir, stat } from "node:fs/promises";
import path from "node:path";
import { parseNodeConfig } from "../node/config.ts";
import { DEFAULT_THREADS } from "../node/constants.ts";
import { createHttpApp } from "../node/http/server.ts";
import type { ProcessEngine } from "../node/inference/process-engine.ts";
import { createInferenceService } from "../node/inference/service.ts";
import type { GenerateRequest, Generator } from "../node/inference/types.ts";
import { generateModel, type ModelName } from "../node/models/generate.ts";
import { DEFAULT_MODELS_DIR } from "../node/models/paths.ts";
import { TOKEN_INTERVAL_MS } from "../node/serving/coalesce.ts";
import { createRequestHandler } from "../node/serving/handler.ts";
import { startHttpServer } from "../protocol/http-server.ts";
import type { GenerationEvent } from "../protocol/wire.ts";
import { pinEngine } from "./lib/pin.ts";
import { fmt, median, percentile, printTable, verdict } from "./lib/stats.ts";

const CHAT = (process.env.BENCH_CHAT_MODEL ?? "fabstir-smollm-135m-shape") as ModelName;
const THREADS = Number(process.env.BENCH_THREADS ?? DEFAULT_THREADS);
const RUNS = Number(process.env.BENCH_RUNS ?? 9);
const TOKENS = 128;
const INTERVAL = Number(process.env.BENCH_TOKEN_INTERVAL ?? TOKEN_INTERVAL_MS);
const KEY = "bench-operator-key-0123456789";

const file = path.join(DEFAULT_MODELS_DIR, `${CHAT}.gguf`);
if (!(await stat(file).catch(() => undefined))) {
  console.log(`generating ${CHAT} ...`);
  await mkdir(DEFAULT_MODELS_DIR, { recursive: true });
  await generateModel(CHAT, file);
}
/** The same model served by the node's default engine (a worker process) and on this thread. */
const serviceOf = (isolation: "process" | "inline") =>
  createInferenceService(
    parseNodeConfig(
      {
        models: [{ id: CHAT, path: file, role: "chat" }],
        gpu: false,
        threads: THREADS,
        engine: { sequences: 1, isolation },
        cache: { enabled: false },
      },
      process.cwd(),
    ),
  );
const services = { process: serviceOf("process"), inline: serviceOf("inline") };
await services.inline.start();
await services.process.start();
const placement = pinEngine([(services.process.engine(CHAT) as ProcessEngine).workerPid()]);
type Isolation = keyof typeof services;

/** When the generator yielded each token and where it ends in the text, for the run in progress. */
let emitted: { t: number; position: number }[] = [];
const timedOf = (isolation: Isolation): Generator => ({
  modelId: CHAT,
  async *generate(request: GenerateRequest): AsyncGenerator<GenerationEvent, void, undefined> {
    let position = 0;
    for await (const e of services[isolation].generator(CHAT).generate(request)) {
      if (e.type === "token") {
        position += e.text.length;
        emitted.push({ t: performance.now(), position });
      }
      yield e;
    }
  },
});
const serverOf = (isolation: Isolation, tokenIntervalMs: number) => {
  const service = services[isolation];
  const timed = timedOf(isolation);
  const handler = createRequestHandler({
    service: { ...service, generator: () => timed },
    apiKeys: [KEY],
    capabilities: () => ({
      version: "bench",
      models: [],
      load: { running: 0, queued: 0, slots: 1 },
    }),
  });
  return startHttpServer(createHttpApp({ handler, tokenIntervalMs }));
};
// The node as it runs (engine in its worker process) with the default interval and with none,
// and the engine on this thread with the default interval (the node before the worker).
const servers = {
  paced: await serverOf("process", INTERVAL),
  eager: await serverOf("process", 0),
  pacedInline: await serverOf("inline", INTERVAL),
};
const intervals = { paced: INTERVAL, eager: 0, pacedInline: INTERVAL };
const labels = {
  paced: `HTTP SSE, engine in its worker process (the node), token interval ${INTERVAL} ms`,
  eager: "HTTP SSE, engine in its worker process (it joins tokens < 5 ms apart), token interval 0",
  pacedInline: `HTTP SSE, engine on the server's thread, token interval ${INTERVAL} ms`,
};

const messages = [
  { role: "user" as const, content: "write a long story about a host and a renter" },
];

/**
 * Rates of one answer: end to end (from the request) and streaming (the tokens after the
 * first, over the time from the first to the end), the latter the same for every path.
 */
function rates(tokens: number, start: number, first: number, end: number) {
  return { e2e: tokens / ((end - start) / 1000), streaming: (tokens - 1) / ((end - first) / 1000) };
}

async function direct(isolation: Isolation) {
  const start = performance.now();
  let tokens = 0;
  let first = 0;
  for await (const e of services[isolation].generator(CHAT).generate({
    messages,
    params: { temperature: 0, maxTokens: TOKENS },
  })) {
    if (e.type === "token" && first === 0) first = performance.now();
    if (e.type === "done") tokens = e.usage.completionTokens;
  }
  return rates(tokens, start, first, performance.now());
}

async function overHttp(url: string) {
  emitted = [];
  /** When each chunk with text was parsed, and where its text ends. */
  const arrived: { t: number; position: number }[] = [];
  let position = 0;
  const start = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, {
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
      const content = chunk.choices[0]?.delta.content;
      if (content) {
        position += content.length;
        arrived.push({ t: performance.now(), position });
      }
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
    }
  }
  const end = performance.now();
  // Each token's delay to the chunk that carried it: the first chunk whose text reaches it.
  const delays: number[] = [];
  let j = 0;
  for (const e of emitted) {
    while (j < arrived.length && (arrived[j]?.position ?? 0) < e.position) j++;
    const chunk = arrived[j];
    if (chunk) delays.push(chunk.t - e.t);
  }
  return { ...rates(tokens, start, arrived[0]?.t ?? end, end), delays, chunks: arrived.length };
}

type Path = keyof typeof servers;
const paths: Path[] = ["paced", "eager", "pacedInline"];
type Direct = "direct" | "workerDirect";
const order = ["direct", "workerDirect", ...paths] as const;
await direct("inline");
await direct("process");
for (const p of paths) await overHttp(servers[p].url);
type Rates = ReturnType<typeof rates>;
const directRuns: Record<Direct, Rates[]> = { direct: [], workerDirect: [] };
const runs: Record<Path, Rates[]> = { paced: [], eager: [], pacedInline: [] };
const delays: Record<Path, number[]> = { paced: [], eager: [], pacedInline: [] };
const chunks: Record<Path, number[]> = { paced: [], eager: [], pacedInline: [] };
for (let i = 0; i < RUNS; i++) {
  // Every path once per round, starting one further each round.
  const d: Partial<Record<Direct, Rates>> = {};
  const h: Partial<Record<Path, Awaited<ReturnType<typeof overHttp>>>> = {};
  for (let k = 0; k < order.length; k++) {
    const which = order[(i + k) % order.length];
    if (which === "direct") d.direct = await direct("inline");
    else if (which === "workerDirect") d.workerDirect = await direct("process");
    else if (which) h[which] = await overHttp(servers[which].url);
  }
  if (!d.direct || !d.workerDirect) throw new Error("no direct run");
  directRuns.direct.push(d.direct);
  directRuns.workerDirect.push(d.workerDirect);
  for (const p of paths) {
    const r = h[p];
    if (!r) continue;
    runs[p].push(r);
    delays[p].push(...r.delays);
    chunks[p].push(r.chunks);
  }
}
console.log(
  `\nSSE streaming overhead: ${CHAT}, ${THREADS} threads, ${TOKENS} tokens, ${RUNS} rounds; ${placement}; the baseline is the engine on this thread, read directly\n`,
);
const ratioOf = (list: Rates[], f: (r: Rates) => number) =>
  median(list.map((r, i) => f(r) / f(directRuns.direct[i] as Rates)));
const rateOf = (list: Rates[], f: (r: Rates) => number) => fmt(median(list.map(f)));
const rows: (string | number)[][] = [
  [
    "path",
    "tokens/s streaming (median)",
    "end to end",
    "chunks per answer",
    "per-token delay p50 ms",
    "p99 ms",
    "target",
  ],
  [
    "engine on this thread, directly",
    rateOf(directRuns.direct, (r) => r.streaming),
    rateOf(directRuns.direct, (r) => r.e2e),
    "-",
    "-",
    "-",
    "baseline",
  ],
  [
    "engine in its worker process, directly",
    rateOf(directRuns.workerDirect, (r) => r.streaming),
    rateOf(directRuns.workerDirect, (r) => r.e2e),
    "-",
    "-",
    "-",
    `ratio ${fmt(
      ratioOf(directRuns.workerDirect, (r) => r.streaming),
      3,
    )}`,
  ],
];
for (const p of paths) {
  const ratio = ratioOf(runs[p], (r) => r.streaming);
  const p99 = percentile(delays[p], 99);
  const interval = intervals[p];
  rows.push([
    labels[p],
    rateOf(runs[p], (r) => r.streaming),
    rateOf(runs[p], (r) => r.e2e),
    fmt(median(chunks[p])),
    fmt(percentile(delays[p], 50), 3),
    fmt(p99, 3),
    `streaming ratio ${fmt(ratio, 3)} (${verdict(ratio >= 0.98)}), end to end ${fmt(
      ratioOf(runs[p], (r) => r.e2e),
      3,
    )}; p99 ${verdict(p99 <= interval + 1)} (<= ${interval + 1} ms)`,
  ]);
}
printTable(rows);
for (const p of paths) await servers[p].close();
await services.process.stop();
await services.inline.stop();
