/** Model manager: validation errors, hash checks, the memory budget's LRU eviction, compute info. */
import assert from "node:assert/strict";
import { copyFile, open, stat, utimes, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { DEFAULT_THREADS } from "../constants.ts";
import {
  ModelFileError,
  ModelHashMismatchError,
  ModelMemoryError,
  ModelNotFoundError,
} from "../errors.ts";
import { createModelManager, type ModelConfig } from "./manager.ts";
import { type TestModels, tinyTestModels } from "./test-models.ts";
import { knownHash, rememberHash, sha256File } from "./validate.ts";

describe("model manager", () => {
  let m: TestModels;
  beforeAll(async () => {
    m = await tinyTestModels();
  });
  afterAll(() => m?.remove());

  /** Starts a CPU manager over `models` without validating at start, runs `fn`, stops it. */
  async function withManager(
    models: ModelConfig[],
    fn: (mgr: ReturnType<typeof createModelManager>) => Promise<void>,
    memoryBudgetBytes?: number,
  ) {
    const mgr = createModelManager({
      models,
      gpu: false,
      validateOnStart: false,
      memoryBudgetBytes,
    });
    await mgr.start();
    try {
      await fn(mgr);
    } finally {
      await mgr.stop();
    }
  }

  it("refuses a missing, truncated or foreign file and a wrong architecture with ModelFileError", async () => {
    const truncated = path.join(m.dir, "truncated.gguf");
    await copyFile(m.chat, truncated);
    const fh = await open(truncated, "r+");
    await fh.truncate(100_000);
    await fh.close();
    const foreign = path.join(m.dir, "foreign.gguf");
    await writeFile(foreign, "not a model at all, just some text that is long enough");
    const configs: ModelConfig[] = [
      { id: "missing", path: path.join(m.dir, "nope.gguf"), role: "chat" },
      { id: "truncated", path: truncated, role: "chat" },
      { id: "foreign", path: foreign, role: "chat" },
      // The bert embedding model cannot serve chat, and the llama chat model cannot embed.
      { id: "bert-as-chat", path: m.embed, role: "chat" },
      { id: "llama-as-embedding", path: m.chat, role: "embedding" },
    ];
    await withManager(configs, async (mgr) => {
      for (const c of configs) await assert.rejects(mgr.acquire(c.id), ModelFileError, c.id);
      assert.deepEqual(mgr.loadedIds(), []);
    });
    // Validation at start stops a node whose config names a bad file.
    const mgr = createModelManager({ models: [configs[0] as ModelConfig], gpu: false });
    await assert.rejects(mgr.start(), ModelFileError);
    await mgr.stop();
  });

  it("checks the sha256 against the configured hash and a sha256: model id", async () => {
    const wrong = "0".repeat(64);
    await withManager(
      [
        { id: "pinned", path: m.chat, role: "chat", sha256: m.chatSha256 },
        { id: "mispinned", path: m.chat, role: "chat", sha256: wrong },
        { id: `sha256:${m.chatSha256}`, path: m.chat, role: "chat" },
        { id: `sha256:${wrong}`, path: m.chat, role: "chat" },
      ],
      async (mgr) => {
        const ok = await mgr.acquire("pinned");
        assert.equal(ok.sha256, m.chatSha256);
        ok.release();
        const err = await mgr.acquire("mispinned").catch((e) => e);
        assert.ok(err instanceof ModelHashMismatchError);
        assert.equal(err.actual, m.chatSha256);
        (await mgr.acquire(`sha256:${m.chatSha256}`)).release();
        await assert.rejects(mgr.acquire(`sha256:${wrong}`), ModelHashMismatchError);
        await assert.rejects(mgr.acquire("never-configured"), ModelNotFoundError);
      },
    );
  });

  it("uses a hash handed over by another process only while the file's size and time match", async () => {
    const file = path.join(m.dir, "handed-over.gguf");
    await copyFile(m.chat, file);
    const st = await stat(file);
    const claimed = "f".repeat(64);
    rememberHash(file, { size: st.size, mtimeMs: st.mtimeMs, sha256: claimed });
    assert.equal(await sha256File(file), claimed, "the handed-over hash is used as is");
    // The file changes (a new modification time): it is hashed again.
    const later = new Date(st.mtimeMs + 5_000);
    await utimes(file, later, later);
    assert.equal(await sha256File(file), m.chatSha256);
    assert.equal(knownHash(file)?.sha256, m.chatSha256);
  });

  it("keeps loaded models within the memory budget, evicting the least recently used idle one", async () => {
    const copy = async (name: string) => {
      const p = path.join(m.dir, `${name}.gguf`);
      await copyFile(m.chat, p);
      return { id: name, path: p, role: "chat" as const };
    };
    const models = [await copy("a"), await copy("b"), await copy("c")];
    const { size } = await stat(m.chat);
    // Room for two models, not three.
    await withManager(
      models,
      async (mgr) => {
        (await mgr.acquire("a")).release();
        (await mgr.acquire("b")).release();
        (await mgr.acquire("a")).release(); // a is now the most recently used
        assert.deepEqual(mgr.loadedIds(), ["b", "a"]);
        const c = await mgr.acquire("c"); // evicts b, the least recently used
        assert.deepEqual(mgr.loadedIds(), ["a", "c"]);
        const a = await mgr.acquire("a");
        // Both loaded models are in use: b cannot be loaded without going over the budget.
        await assert.rejects(mgr.acquire("b"), ModelMemoryError);
        a.release();
        const b = await mgr.acquire("b"); // a is idle again and is evicted
        assert.deepEqual(mgr.loadedIds().sort(), ["b", "c"]);
        b.release();
        c.release();
      },
      size * 2 + 1_000,
    );
  });

  it("shares one load between concurrent acquires and reports the compute backend", async () => {
    await withManager([{ id: "chat", path: m.chat, role: "chat" }], async (mgr) => {
      const [x, y] = await Promise.all([mgr.acquire("chat"), mgr.acquire("chat")]);
      assert.equal(x.model, y.model);
      x.release();
      y.release();
      const compute = await mgr.compute();
      assert.equal(compute.gpu, false);
      assert.equal(x.gpuLayers, 0);
      assert.ok(compute.cpuCores >= 1);
    });
    assert.ok(DEFAULT_THREADS >= 1 && DEFAULT_THREADS <= Math.max(1, availableParallelism()));
  });
});
