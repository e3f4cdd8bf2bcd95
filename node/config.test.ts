import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "vitest";
import { ConfigError, loadNodeConfig, parseNodeConfig } from "./config.ts";

const models = [
  { id: "chat", path: "models/chat.gguf", role: "chat" },
  { id: "embed", path: "/abs/embed.gguf", role: "embedding" },
];

describe("node config", () => {
  it("fills defaults, resolves relative paths and picks the embedding model", () => {
    const c = parseNodeConfig({ models }, "/srv/node");
    assert.equal(c.models[0]?.path, "/srv/node/models/chat.gguf");
    assert.equal(c.models[1]?.path, "/abs/embed.gguf");
    assert.equal(c.cache.dir, "/srv/node/data/cache");
    assert.equal(c.cache.embeddingModel, "embed");
    assert.equal(c.gpu, "auto");
    assert.ok(c.engine.sequences >= 1 && c.threads >= 1);
  });

  it("turns proofs on by default for a chain, with one prover, and validates the switch", () => {
    const chain = {
      rpcUrl: "http://127.0.0.1:8545",
      offers: [{ model: "chat", pricePerToken: "1000" }],
    };
    const c = parseNodeConfig({ models, chain }, "/srv/node");
    assert.deepEqual(c.chain?.proofs, { enabled: true, submit: "always", maxConcurrent: 1 });
    const off = parseNodeConfig(
      { models, chain: { ...chain, proofs: { enabled: false, submit: "challenged" } } },
      "/srv/node",
    );
    assert.deepEqual(off.chain?.proofs, { enabled: false, submit: "challenged", maxConcurrent: 1 });
    const err = (() => {
      try {
        parseNodeConfig(
          { models, chain: { ...chain, proofs: { submit: "never", maxConcurrent: 0 } } },
          "/srv",
        );
      } catch (e) {
        return e;
      }
    })();
    assert.ok(err instanceof ConfigError);
    const fields = err.issues.map((i) => i.split(":")[0]);
    for (const f of ["chain.proofs.submit", "chain.proofs.maxConcurrent"])
      assert.ok(fields.includes(f), `${f} in ${fields.join(", ")}`);
  });

  it("names every bad field by its path", () => {
    const err = (() => {
      try {
        parseNodeConfig(
          {
            models: [
              { id: "chat", path: "a.gguf", role: "chat", sha256: "xyz" },
              { id: "chat", path: "b.gguf", role: "chat" },
            ],
            engine: { sequences: 0 },
          },
          "/srv",
        );
      } catch (e) {
        return e;
      }
    })();
    assert.ok(err instanceof ConfigError);
    const fields = err.issues.map((i) => i.split(":")[0]);
    for (const f of ["models.0.sha256", "engine.sequences", "models.1.id", "cache.embeddingModel"])
      assert.ok(fields.includes(f), `${f} in ${fields.join(", ")}`);
    assert.throws(() => parseNodeConfig({ models: [] }, "/srv"), ConfigError);
  });

  it("reads a JSON file with environment overrides, and refuses a broken file", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "fabstir-config-"));
    try {
      const file = path.join(dir, "node.json");
      await writeFile(file, JSON.stringify({ models, cache: { enabled: false } }));
      const c = await loadNodeConfig(file, { FABSTIR_THREADS: "3", FABSTIR_GPU: "false" });
      assert.equal(c.threads, 3);
      assert.equal(c.gpu, false);
      assert.equal(c.models[0]?.path, path.join(dir, "models/chat.gguf"));
      await writeFile(file, "{ not json");
      await assert.rejects(loadNodeConfig(file, {}), ConfigError);
      await assert.rejects(loadNodeConfig(path.join(dir, "missing.json"), {}), ConfigError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
