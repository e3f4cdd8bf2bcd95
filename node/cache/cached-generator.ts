/**
 * The engine behind the semantic cache: a cacheable request (temperature 0, or opted in)
 * is answered from the cache when it hits, streamed at full speed with the stored
 * completion's token count and the prompt's own token count; otherwise the engine
 * generates it and the finished answer is stored. A failing cache never fails a request:
 * it is logged and the engine answers.
 */

import { type Logger, silentLogger } from "../../protocol/logger.ts";
import type { InferenceEngine } from "../inference/engine.ts";
import { resolveParams } from "../inference/engine.ts";
import type { EngineEvent, GenerateRequest, Generator } from "../inference/types.ts";
import type { CacheScope, SemanticCache } from "./semantic-cache.ts";

export interface CachedGenerator extends Generator {
  /** Waits for answers still being written to the cache. */
  flush: () => Promise<void>;
}

export function withSemanticCache(
  engine: InferenceEngine,
  cache: SemanticCache,
  options: { modelSha256: string; logger?: Logger },
): CachedGenerator {
  const log = options.logger ?? silentLogger;
  const writes = new Set<Promise<void>>();

  async function* generate(request: GenerateRequest): AsyncGenerator<EngineEvent, void, undefined> {
    const params = resolveParams(request.params);
    const mode = request.cache ?? "auto";
    // Raw completions are keyed by chat messages nowhere: they bypass the cache.
    const cacheable =
      request.prompt === undefined &&
      mode !== "off" &&
      (params.temperature === 0 || mode === "sampled");
    const scope: CacheScope = { modelId: engine.modelId, modelSha256: options.modelSha256, params };
    if (cacheable) {
      const hit = await cache.lookup(scope, request.messages).catch((e) => {
        log.warn({ err: String(e) }, "cache lookup failed");
        return undefined;
      });
      if (hit) {
        for (const text of hit.chunks) {
          if (request.signal?.aborted) break;
          yield { type: "token", text };
        }
        yield {
          type: "done",
          text: hit.text,
          finishReason: hit.finishReason,
          usage: {
            promptTokens: hit.exact
              ? hit.usage.promptTokens
              : engine.countPromptTokens(request.messages),
            completionTokens: hit.usage.completionTokens,
          },
          cached: true,
          // The stored answer's own ids (its output-count proof needs them), when kept.
          tokenIds: hit.tokenIds,
        };
        return;
      }
    }
    const chunks: string[] = [];
    for await (const event of engine.generate(request)) {
      if (event.type === "token") chunks.push(event.text);
      else if (cacheable) {
        const write = cache
          .put(scope, request.messages, {
            chunks,
            text: event.text,
            finishReason: event.finishReason,
            usage: event.usage,
            tokenIds: event.tokenIds,
          })
          .catch((e) => log.warn({ err: String(e) }, "cache write failed"))
          .finally(() => writes.delete(write));
        writes.add(write);
      }
      yield event;
    }
  }

  return {
    modelId: engine.modelId,
    generate,
    flush: async () => {
      while (writes.size > 0) await Promise.all([...writes]);
    },
  };
}
