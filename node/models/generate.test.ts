/** Generated models: deterministic bytes, and node-llama-cpp (CPU) loads, tokenizes, generates and embeds with them. */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { getLlama, type Llama, LlamaChatSession } from "node-llama-cpp";
import { afterAll, beforeAll, describe, it } from "vitest";
import { generateModel } from "./generate.ts";
import { readGgufHeader } from "./gguf/reader.ts";

describe("generated models", () => {
  let dir: string;
  let llama: Llama;
  let chat: string;
  let embed: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "fabstir-models-"));
    chat = path.join(dir, "chat.gguf");
    embed = path.join(dir, "embed.gguf");
    await generateModel("fabstir-tiny-chat", chat);
    await generateModel("fabstir-tiny-embed", embed);
    llama = await getLlama({ gpu: false, build: "never", logLevel: "error" as never });
  });
  afterAll(async () => {
    await llama?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it("are byte-for-byte deterministic", async () => {
    const a = await generateModel("fabstir-tiny-chat", path.join(dir, "a.gguf"));
    const b = await generateModel("fabstir-tiny-chat", path.join(dir, "b.gguf"));
    assert.equal(a.sha256, b.sha256);
    const h = await readGgufHeader(chat);
    assert.equal(h.metadata.get("general.architecture"), "llama");
    assert.match(String(h.metadata.get("tokenizer.chat_template")), /<\|im_start\|>/);
    assert.equal((await readGgufHeader(embed)).metadata.get("general.architecture"), "bert");
  });

  it("the chat model tokenizes words whole, uses ChatML and generates deterministically", async () => {
    const model = await llama.loadModel({ modelPath: chat });
    try {
      const tokens = model.tokenize("the capital of france is paris");
      assert.equal(tokens.length, 6);
      assert.equal(model.detokenize(tokens), "the capital of france is paris");
      const answer = async () => {
        const context = await model.createContext({ contextSize: 512, threads: 1 });
        try {
          const session = new LlamaChatSession({ contextSequence: context.getSequence() });
          assert.equal(session.chatWrapper.wrapperName, "ChatML");
          return await session.prompt("What is the capital of France?", {
            maxTokens: 24,
            temperature: 0,
          });
        } finally {
          await context.dispose();
        }
      };
      const first = await answer();
      assert.ok(first.length > 0);
      assert.equal(await answer(), first);
    } finally {
      await model.dispose();
    }
  });

  it("the embedding model puts texts that share words closer together", async () => {
    const model = await llama.loadModel({ modelPath: embed });
    try {
      const context = await model.createEmbeddingContext({ threads: 1 });
      const [a, b, c] = [
        await context.getEmbeddingFor("the cat sat on the mat"),
        await context.getEmbeddingFor("the cat sat on a mat"),
        await context.getEmbeddingFor("quantum river computer network"),
      ];
      assert.equal(a.vector.length, 64);
      assert.ok(a.calculateCosineSimilarity(b) > a.calculateCosineSimilarity(c) + 0.3);
      await context.dispose();
    } finally {
      await model.dispose();
    }
  });
});
