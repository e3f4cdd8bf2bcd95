/**
 * The renter's spot-checks: a sampled fraction of answers is sent, with its chat, to another
 * host serving the same model (`POST /v1/verify`, protocol/verify.ts), which scores it in one
 * teacher-forced forward pass. A statistical check, not a proof: a failed check is grounds for
 * a challenge, and it is the challenge's resolvers who decide. A verifier that cannot be
 * reached or answers with an error leaves the answer "unchecked", never "failed": only a
 * verdict counts against the host.
 *
 * Not every answer can be checked: one served from the host's semantic cache is the model's
 * answer to a similar chat, not to this one (it would fail honestly), so cached answers are
 * never sampled.
 */

import {
  askVerifier,
  type CheckResult,
  type VerifyBody,
  verifyCutoffs,
} from "../protocol/verify.ts";
import type { ChatMessage, SamplingParams } from "../protocol/wire.ts";
import { RenterUsageError } from "./errors.ts";

export interface VerifierHost {
  httpUrl: string;
  /** The host's chain address: never the answering host's. */
  address: string;
}

export interface SpotCheckerOptions {
  /** Fraction of eligible answers checked, 0..1. */
  rate: number;
  /** Hosts that serve `model` and may check an answer (discovery's listing, say). */
  verifiers: (model: string) => Promise<VerifierHost[]>;
  /** Uniform in [0, 1): the sampling and the verifier choice; default Math.random. */
  random?: () => number;
  fetch?: typeof fetch;
  /** Per verifier call; default 30 s. */
  timeoutMs?: number;
  /** Verifiers tried, one after another, before the answer is left unchecked; default 2. */
  attempts?: number;
}

export interface SpotCheckRequest {
  model: string;
  /** The chat exactly as sent to the host. */
  messages: ChatMessage[];
  /** The answer text the host returned. */
  answer: string;
  /** The request's sampling parameters as sent (temperature 0 is checked as greedy). */
  params?: Partial<Pick<SamplingParams, "temperature" | "topK" | "topP">>;
  /** The answering host's address. */
  host: string;
  /** The answer came from the host's semantic cache: not checked. */
  cached?: boolean;
  /** The listed model file's sha256: a verifier that ran another file does not count. */
  modelSha256?: string;
  signal?: AbortSignal;
}

export type { UncheckedReason } from "../protocol/verify.ts";
export type SpotCheckResult = CheckResult;

export interface SpotCheckVerdict {
  /** The last verifier asked; undefined when no host other than the answering one serves the model. */
  verifier: VerifierHost | undefined;
  result: SpotCheckResult;
}

export interface SpotChecker {
  /** Undefined when the answer was not sampled (or is not eligible); else the verdict. */
  maybeCheck: (request: SpotCheckRequest) => Promise<SpotCheckVerdict | undefined>;
}

const DEFAULT_TIMEOUT_MS = 30_000;

export function createSpotChecker(options: SpotCheckerOptions): SpotChecker {
  if (!(options.rate >= 0 && options.rate <= 1))
    throw new RenterUsageError(`spot-check rate must be within 0..1, not ${options.rate}`);
  const random = options.random ?? Math.random;
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const attempts = options.attempts ?? 2;

  return {
    async maybeCheck(request) {
      if (request.cached || request.answer.length === 0) return undefined;
      if (!(random() < options.rate)) return undefined;
      const self = request.host.toLowerCase();
      const candidates = (await options.verifiers(request.model)).filter(
        (v) => v.address.toLowerCase() !== self,
      );
      const { topK, topP } = verifyCutoffs(request.params ?? {});
      const body: VerifyBody = {
        model: request.model,
        messages: request.messages,
        answer: request.answer,
        top_k: topK,
        top_p: topP,
      };
      let verifier: VerifierHost | undefined;
      let result: SpotCheckResult = {
        outcome: "unchecked",
        reason: "no_verifier",
        detail: `no host but ${request.host} serves ${request.model}`,
      };
      for (let i = 0; i < attempts && candidates.length > 0; i++) {
        const pick = Math.min(Math.floor(random() * candidates.length), candidates.length - 1);
        verifier = candidates.splice(pick, 1)[0];
        if (!verifier) break;
        result = await askVerifier(verifier.httpUrl, body, {
          fetch: doFetch,
          timeoutMs,
          signal: request.signal,
          modelSha256: request.modelSha256,
        });
        if (result.outcome !== "unchecked" || request.signal?.aborted) break;
      }
      return { verifier, result };
    },
  };
}
