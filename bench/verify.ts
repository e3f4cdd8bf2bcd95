/**
 * The teacher-forced spot-check (node/inference/verify.ts) against generating the same answer,
 * measured in the same run on the same engine:
 *
 *   node bench/verify.ts            (npm run bench:verify)
 *
 * 1. Time: for answers of 16, 64 and 256 tokens, generating the answer (the baseline), the
 *    engine's check of it, a bare prefill of prompt + answer (the floor: what the forward
 *    pass itself costs) and a bare pass that returns the whole vocabulary's probabilities at
 *    every answer position (the straightforward way, which the engine avoids).
 * 2. Verdicts: miss rates of honest answers (greedy, checked at top-k 1; sampled at
 *    temperature 0.8 / top-k 40, checked at top-k 40), random text, and another model's
 *    answers (a reseeded copy of the model: same tokenizer, other weights).
 *
 * Target: the check costs no more than generating the answer (ratio <= 1). Default model: the
 * tiny chat model; BENCH_CHAT_MODEL=fabstir-smollm-135m-shape shows a 49k-token vocabulary
 * (section 2 needs an F32 model and runs on the tiny one only). BENCH_THREADS overrides threads.
 */
import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { resolveChatWrapper, type Token } from "node-llama-cpp";
import { DEFAULT_THREADS } from "../node/constants.ts";
import { createInferenceEngine, type InferenceEngine } from "../node/inference/engine.ts";
import { reseededCopy } from "../node/inference/reseeded-model.ts";
import type { GenerateRequest } from "../node/inference/types.ts";
import { VERIFY_DEFAULTS } from "../node/inference/verify.ts";
import { generateModel, type ModelName } from "../node/models/generate.ts";
import { createModelManager } from "../node/models/manager.ts";
import { DEFAULT_MODELS_DIR } from "../node/models/paths.ts";
import type { ChatMessage } from "../protocol/wire.ts";
import { fmt, median, printTable, verdict } from "./lib/stats.ts";

const CHAT = (process.env.BENCH_CHAT_MODEL ?? "fabstir-tiny-chat") as ModelName;
const THREADS = Number(process.env.BENCH_THREADS ?? DEFAULT_THREADS);
const LENGTHS = [16, 64, 256];
const RUNS = 7;
const PROMPTS = 12;

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
const tiny = CHAT === "fabstir-tiny-chat";
const scratch = await mkdtemp(path.join(tmpdir(), "fabstir-bench-verify-"));
const chatPath = await modelFile(CHAT);
const otherPath = path.join(scratch, "other.gguf");
if (tiny) await reseededCopy(chatPath, otherPath, 7);

const manager = createModelManager({
  models: [
    { id: "chat", path: chatPath, role: "chat" },
    ...(tiny ? [{ id: "other", path: otherPath, role: "chat" as const }] : []),
  ],
});
await manager.start();
const contextSize = 1_024;
const engineOf = async (modelId: string) => {
  const e = createInferenceEngine({
    manager,
    modelId,
    contextSize,
    sequences: 1,
    threads: THREADS,
  });
  await e.start();
  return e;
};
const engine = await engineOf("chat");

async function generate(e: InferenceEngine, request: GenerateRequest) {
  for await (const ev of e.generate(request)) if (ev.type === "done") return ev;
  throw new Error("no done event");
}

console.log(
  `model ${CHAT}, ${THREADS} threads, context ${contextSize}, GPU: ${(await manager.compute()).gpu || "none"}`,
);

// 1. Time. The bare passes run on their own context of the same shape, outside the engine.
const loaded = await manager.acquire("chat");
const bareContext = await loaded.model.createContext({
  contextSize,
  sequences: 1,
  threads: THREADS,
});
const bare = bareContext.getSequence();
const messages = user("Tell me a long story about the river and the mountain");
const promptTokens = engine.countPromptTokens(messages);
const rows: (string | number)[][] = [
  [
    "answer tokens",
    "generate (baseline) ms",
    "check ms",
    "check/generate",
    "bare prefill ms",
    "full-vocab probabilities ms",
  ],
];
const ratios: number[] = [];
for (const n of LENGTHS) {
  const request = { messages, params: { temperature: 0, maxTokens: n }, cache: "off" as const };
  const done = await generate(engine, request); // warm-up, and the answer to check
  const answer = loaded.model.tokenize(done.text, false, "trimLeadingSpace");
  const all = [...(await promptOf()), ...answer];
  const gen: number[] = [];
  const check: number[] = [];
  const prefill: number[] = [];
  const probs: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    let t = now();
    await generate(engine, request);
    gen.push(now() - t);
    t = now();
    const v = await engine.verify({ messages, answer: done.text, params: { topK: 1 } });
    check.push(now() - t);
    if (!v.passed) throw new Error(`the honest answer failed its check: ${JSON.stringify(v)}`);
    await bare.clearHistory();
    t = now();
    await bare.evaluateWithoutGeneratingNewTokens(all.slice(0, -1));
    prefill.push(now() - t);
    await bare.clearHistory();
    t = now();
    const probe = { generateNext: { probabilities: true } } as const;
    await bare.controlledEvaluate(
      all.slice(0, -1).map((tok, i) => (i >= promptTokens - 1 ? [tok, probe] : tok)),
    );
    probs.push(now() - t);
  }
  const ratio = median(check) / median(gen);
  ratios.push(ratio);
  rows.push([
    `${n} (${done.usage.completionTokens} generated)`,
    fmt(median(gen)),
    fmt(median(check)),
    fmt(ratio, 2),
    fmt(median(prefill)),
    fmt(median(probs)),
  ]);
}
console.log(`\n1. Check vs generating the same answer (greedy, median of ${RUNS} runs)`);
printTable(rows);
console.log(
  `   check/generate at most ${fmt(Math.max(...ratios), 2)}: ${verdict(Math.max(...ratios) <= 1)} (<= 1)`,
);
await bareContext.dispose();

async function promptOf(): Promise<Token[]> {
  // The engine's prompt tokens: generation reports their count; the bare passes need the ids.
  const wrapper = resolveChatWrapper(loaded.model);
  const state = wrapper.generateContextState({
    chatHistory: [
      ...messages.map((m) => ({ type: "user" as const, text: m.content })),
      { type: "model", response: [] },
    ],
  });
  const tokens = state.contextText.tokenize(loaded.model.tokenizer);
  if (tokens.length !== promptTokens) throw new Error("prompt tokens differ from the engine's");
  return tokens;
}

// 2. Verdicts on the tiny model.
if (tiny) {
  const other = await engineOf("other");
  const words = "the river runs past the mountain city where people learn to write".split(" ");
  let seed = 1;
  const rnd = () => {
    seed = (seed * 48271) % 2147483647;
    return seed / 2147483647;
  };
  const chats = Array.from({ length: PROMPTS }, (_, i) =>
    user(
      Array.from({ length: 4 + (i % 5) }, () => words[Math.floor(rnd() * words.length)]).join(" "),
    ),
  );
  const cases: [string, (m: ChatMessage[], i: number) => Promise<string>, number][] = [
    [
      "honest, greedy (checked at top-k 1)",
      async (m) =>
        (await generate(engine, { messages: m, params: { temperature: 0, maxTokens: 64 } })).text,
      1,
    ],
    [
      "honest, sampled t 0.8 top-k 40 (at top-k 40)",
      async (m, i) =>
        (
          await generate(engine, {
            messages: m,
            params: { temperature: 0.8, topK: 40, seed: i, maxTokens: 64 },
          })
        ).text,
      40,
    ],
    [
      "random tokens (at top-k 40)",
      async () =>
        loaded.model.detokenize(
          Array.from({ length: 64 }, () => (261 + Math.floor(rnd() * 763)) as Token),
        ),
      40,
    ],
    [
      "random tokens (at top-k 1)",
      async () =>
        loaded.model.detokenize(
          Array.from({ length: 64 }, () => (261 + Math.floor(rnd() * 763)) as Token),
        ),
      1,
    ],
    [
      "other model, greedy (at top-k 1)",
      async (m) =>
        (await generate(other, { messages: m, params: { temperature: 0, maxTokens: 64 } })).text,
      1,
    ],
    [
      "other model, sampled (at top-k 40)",
      async (m, i) =>
        (
          await generate(other, {
            messages: m,
            params: { temperature: 0.8, topK: 40, seed: i, maxTokens: 64 },
          })
        ).text,
      40,
    ],
    [
      "honest greedy answer to another chat (at top-k 1)",
      async (_m, i) =>
        (
          await generate(engine, {
            messages: chats[(i + 1) % PROMPTS] as ChatMessage[],
            params: { temperature: 0, maxTokens: 64 },
          })
        ).text,
      1,
    ],
  ];
  const table: (string | number)[][] = [
    ["answers (64 tokens)", "miss rate mean", "min", "max", "passed"],
  ];
  for (const [name, make, topK] of cases) {
    const rates: number[] = [];
    let passed = 0;
    for (const [i, m] of chats.entries()) {
      const r = await engine.verify({ messages: m, answer: await make(m, i), params: { topK } });
      rates.push(r.missRate);
      if (r.passed) passed++;
    }
    const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
    table.push([
      name,
      fmt(mean, 3),
      fmt(Math.min(...rates), 3),
      fmt(Math.max(...rates), 3),
      `${passed}/${rates.length}`,
    ]);
  }
  console.log(
    `\n2. Verdicts (${PROMPTS} chats; allowed miss rate ${VERIFY_DEFAULTS.maxMissRate}, logit tolerance ${VERIFY_DEFAULTS.logitTolerance})`,
  );
  printTable(table);
  await other.stop();
}

loaded.release();
await engine.stop();
await manager.stop();
await rm(scratch, { recursive: true, force: true });
