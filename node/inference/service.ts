/**
 * Everything inference on one node, from its config: the model manager, one engine per
 * chat model, the embedding model and the semantic cache in front of the engines. The
 * HTTP and p2p layers ask it for the generator of a model id.
 */

import { type Logger, silentLogger } from "../../protocol/logger.ts";
import { type CachedGenerator, withSemanticCache } from "../cache/cached-generator.ts";
import { createSemanticCache, type SemanticCache } from "../cache/semantic-cache.ts";
import type { NodeConfig } from "../config.ts";
import { ModelNotFoundError } from "../errors.ts";
import { createModelManager, type ModelManager } from "../models/manager.ts";
import { createEmbedder, type Embedder } from "./embedder.ts";
import { createInferenceEngine, type EngineStats, type InferenceEngine } from "./engine.ts";
import { createProcessEngine } from "./process-engine.ts";
import type { Generator } from "./types.ts";

export interface InferenceService {
  readonly manager: ModelManager;
  start: () => Promise<void>;
  /** Chat model ids this node serves. */
  models: () => string[];
  /** The generator of a chat model (behind the cache when it is enabled). */
  generator: (modelId: string) => Generator;
  engine: (modelId: string) => InferenceEngine;
  /** Waits for answers still being written to the semantic cache. */
  flush: () => Promise<void>;
  stats: () => Record<string, EngineStats>;
  stop: () => Promise<void>;
}

export function createInferenceService(
  config: NodeConfig,
  logger: Logger = silentLogger,
): InferenceService {
  const manager = createModelManager({
    models: config.models,
    gpu: config.gpu,
    memoryBudgetBytes: config.memoryBudgetBytes,
    logger,
  });
  const engines = new Map<string, InferenceEngine>();
  const generators = new Map<string, Generator>();
  const cachedGenerators: CachedGenerator[] = [];
  const flush = async () => {
    for (const g of cachedGenerators) await g.flush();
  };
  let embedder: Embedder | undefined;
  let cache: SemanticCache | undefined;

  const find = <T>(map: Map<string, T>, id: string): T => {
    const v = map.get(id);
    if (!v) throw new ModelNotFoundError(`model ${id} is not served by this node`);
    return v;
  };

  return {
    manager,
    async start() {
      await manager.start();
      if (config.cache.enabled && config.cache.embeddingModel) {
        embedder = createEmbedder({
          manager,
          modelId: config.cache.embeddingModel,
          threads: config.threads,
        });
        await embedder.start();
        cache = createSemanticCache({ ...config.cache, dir: config.cache.dir, embedder, logger });
        await cache.start();
      }
      for (const m of config.models.filter((m) => m.role === "chat")) {
        const { isolation, ...engineOptions } = config.engine;
        const options = {
          manager,
          modelId: m.id,
          threads: config.threads,
          logger,
          ...engineOptions,
        };
        const engine =
          isolation === "process"
            ? createProcessEngine({
                ...options,
                gpu: config.gpu,
                memoryBudgetBytes: config.memoryBudgetBytes,
              })
            : createInferenceEngine(options);
        await engine.start();
        engines.set(m.id, engine);
        if (cache) {
          const cached = withSemanticCache(engine, cache, {
            modelSha256: engine.modelSha256,
            logger,
          });
          cachedGenerators.push(cached);
          generators.set(m.id, cached);
        } else generators.set(m.id, engine);
      }
    },
    models: () => [...engines.keys()],
    generator: (id) => find(generators, id),
    engine: (id) => find(engines, id),
    flush,
    stats: () => Object.fromEntries([...engines].map(([id, e]) => [id, e.stats()])),
    async stop() {
      await flush();
      cachedGenerators.length = 0;
      for (const e of engines.values()) await e.stop();
      engines.clear();
      generators.clear();
      await cache?.stop();
      await embedder?.stop();
      await manager.stop();
    },
  };
}
