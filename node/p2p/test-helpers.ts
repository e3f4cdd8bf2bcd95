/**
 * For the p2p tests and benchmark: libp2p nodes on 127.0.0.1, polling a condition with a
 * deadline, a RequestHandler over the inference service (what node/serving does in the
 * node, reduced to what the p2p layer needs), and scripted handlers.
 */
import { generateKeyPair } from "@libp2p/crypto/keys";
import { ModelNotFoundError } from "../errors.ts";
import type { InferenceService } from "../inference/service.ts";
import type { GenerationEvent } from "../inference/types.ts";
import type { Capabilities, RequestHandler, ServeOptions, ServeRequest } from "../serving/types.ts";
import { createP2PNode, type P2PNode, type P2PNodeOptions } from "./node.ts";

/** A started node with a fresh key, listening on a random loopback port. */
export async function localNode(options: Partial<P2PNodeOptions> = {}): Promise<P2PNode> {
  return createP2PNode({
    privateKey: await generateKeyPair("Ed25519"),
    listen: ["/ip4/127.0.0.1/tcp/0"],
    ...options,
  });
}

/** Resolves when `condition` holds, polling every few ms; rejects after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A chain model id (bytes32) for tests. */
export const chainId = (byte: string): `0x${string}` => `0x${byte.repeat(32)}`;

export function testCapabilities(
  models: { id: string; chainModelId: `0x${string}` }[],
  load = { running: 0, queued: 0, slots: 4 },
): Capabilities {
  return {
    version: "0.1.0-test",
    models: models.map((m) => ({
      ...m,
      prices: [{ token: `0x${"0".repeat(40)}`, pricePerToken: "2000" }],
      contextSize: 512,
    })),
    load,
  };
}

/** A RequestHandler over the inference service; model ids map to the given chain ids. */
export function serviceHandler(
  service: InferenceService,
  chainModelIds: Record<string, `0x${string}`>,
): RequestHandler {
  return {
    async *serve(request: ServeRequest, options: ServeOptions) {
      const generator = service.generator(request.model);
      yield* generator.generate({
        messages: request.messages ?? [],
        prompt: request.prompt,
        params: request.params,
        cache: request.cache,
        signal: options.signal,
      });
    },
    capabilities() {
      const stats = Object.values(service.stats());
      return testCapabilities(
        service.models().map((id) => ({
          id,
          chainModelId: chainModelIds[id] ?? chainId("00"),
        })),
        {
          running: stats.reduce((s, e) => s + e.running, 0),
          queued: stats.reduce((s, e) => s + e.queued, 0),
          slots: stats.reduce((s, e) => s + e.slots, 0),
        },
      );
    },
  };
}

export interface ScriptedCall {
  request: ServeRequest;
  signal: AbortSignal;
  /** Settles when serve() has ended (its generator returned or threw). */
  ended: Promise<void>;
}

/**
 * A handler that streams `tokens` tokens `intervalMs` apart for model "scripted" (unknown
 * models are refused), stopping at its signal like the engine, and records each call.
 */
export function scriptedHandler(tokens: number, intervalMs: number) {
  const calls: ScriptedCall[] = [];
  const handler: RequestHandler = {
    serve(request, options) {
      let end = () => {};
      const ended = new Promise<void>((r) => {
        end = r;
      });
      calls.push({ request, signal: options.signal, ended });
      return (async function* (): AsyncGenerator<GenerationEvent> {
        try {
          if (request.model !== "scripted")
            throw new ModelNotFoundError(`model ${request.model} is not served by this node`);
          let text = "";
          for (let i = 0; i < tokens; i++) {
            await new Promise((r) => setTimeout(r, intervalMs));
            options.signal.throwIfAborted();
            text += `t${i} `;
            yield { type: "token", text: `t${i} ` };
          }
          yield {
            type: "done",
            text,
            finishReason: "length",
            usage: { promptTokens: 3, completionTokens: tokens },
            cached: false,
          };
        } finally {
          end();
        }
      })();
    },
    capabilities: () => testCapabilities([{ id: "scripted", chainModelId: chainId("5c") }]),
  };
  return { handler, calls };
}
