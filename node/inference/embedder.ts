/**
 * Embeddings from the node's embedding model (a bert-architecture GGUF): one embedding
 * context, calls serialized by node-llama-cpp. Texts longer than the model's context are
 * refused (`fits` says whether a text can be embedded whole).
 */
import type { LlamaEmbeddingContext } from "node-llama-cpp";
import { DEFAULT_THREADS } from "../constants.ts";
import { StoppedError } from "../errors.ts";
import type { LoadedModel, ModelManager } from "../models/manager.ts";

export interface Embedder {
  readonly modelId: string;
  start: () => Promise<void>;
  /** Whether `text` fits in the model's context (a longer one would be truncated). */
  fits: (text: string) => boolean;
  embed: (text: string) => Promise<Float32Array>;
  dimensions: () => number;
  stop: () => Promise<void>;
}

export function createEmbedder(options: {
  manager: ModelManager;
  modelId: string;
  threads?: number;
}): Embedder {
  let loaded: LoadedModel | undefined;
  let context: LlamaEmbeddingContext | undefined;
  const running = () => {
    if (!loaded || !context) throw new StoppedError(`embedder ${options.modelId} is not running`);
    return { model: loaded.model, context };
  };
  return {
    modelId: options.modelId,
    async start() {
      loaded = await options.manager.acquire(options.modelId);
      try {
        context = await loaded.model.createEmbeddingContext({
          threads: options.threads ?? DEFAULT_THREADS,
        });
      } catch (e) {
        loaded.release();
        loaded = undefined;
        throw e;
      }
    },
    fits: (text) => {
      const { model } = running();
      return model.tokenize(text).length + 2 <= model.trainContextSize;
    },
    async embed(text) {
      const { context } = running();
      const embedding = await context.getEmbeddingFor(text);
      return Float32Array.from(embedding.vector);
    },
    dimensions: () => running().model.embeddingVectorSize,
    async stop() {
      await context?.dispose();
      loaded?.release();
      context = undefined;
      loaded = undefined;
    },
  };
}
