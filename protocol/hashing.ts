/**
 * The hashes both ends of a paid request compute and compare:
 * - the request hash (what the renter posts as the job's `promptHash` and signs in its job
 *   authorization) is keccak256 of a canonical JSON form of the request: the chat messages or
 *   the raw prompt, and the sampling parameters the renter set, keys sorted, nothing else;
 * - the output hash (what the host puts on chain with `completeJob`, and the renter checks
 *   against the answer it received) is keccak256 of the answer's UTF-8 text.
 */
import { type Hex, keccak256, stringToHex } from "viem";
import type { SamplingParams, ServeRequest } from "./wire.ts";

const PARAM_KEYS: (keyof SamplingParams)[] = [
  "maxTokens",
  "seed",
  "stop",
  "temperature",
  "topK",
  "topP",
];

/** The canonical JSON text of a request: what its hash covers. */
export function canonicalRequest(request: Pick<ServeRequest, "messages" | "prompt" | "params">) {
  const params: Record<string, unknown> = {};
  for (const k of PARAM_KEYS) {
    const v = request.params?.[k];
    if (v !== undefined) params[k] = v;
  }
  const body =
    request.prompt !== undefined
      ? { params, prompt: request.prompt, v: 1 }
      : {
          messages: (request.messages ?? []).map((m) => ({ content: m.content, role: m.role })),
          params,
          v: 1,
        };
  return JSON.stringify(body);
}

/** keccak256 of the canonical request: the job's promptHash. */
export function requestHash(request: Pick<ServeRequest, "messages" | "prompt" | "params">): Hex {
  return keccak256(stringToHex(canonicalRequest(request)));
}

/** keccak256 of an answer's UTF-8 text: the job's output hash. */
export function outputHash(text: string): Hex {
  return keccak256(stringToHex(text));
}
