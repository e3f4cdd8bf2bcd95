/**
 * The wire format of the teacher-forced spot-check (`POST /v1/verify` on a host node): a
 * verifier that serves the same model scores a claimed answer to a chat in one forward pass
 * and says whether the listed model's sampler could have produced it. A statistical check,
 * not a proof: see node/inference/verify.ts for what it does and does not catch.
 */
import { z } from "zod";
import { SAMPLING } from "./wire.ts";

/** The largest answer accepted: a few thousand tokens of text, within the default 1 MiB body. */
export const VERIFY_MAX_ANSWER_CHARS = 256 * 1024;

const message = z.object({
  role: z.enum(["system", "developer", "user", "assistant"]),
  content: z.string(),
});

export const verifyBody = z.object({
  model: z.string().min(1).max(128),
  /** The chat exactly as the answering host received it (same bounds as a chat completion). */
  messages: z.array(message).min(1).max(1024),
  /** The answer the host returned. */
  answer: z.string().min(1).max(VERIFY_MAX_ANSWER_CHARS),
  /** The request's top_k (0 = off); 1 checks an answer generated at temperature 0. Default 40. */
  top_k: SAMPLING.topK.nullish(),
  /** The request's top_p. Default 1. */
  top_p: SAMPLING.topP.nullish(),
});
export type VerifyBody = z.infer<typeof verifyBody>;

export const verifyResponse = z.object({
  model: z.string(),
  /** The sha256 of the model file the verifier ran: what the verdict is about. */
  model_sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Answer tokens scored. */
  tokens: z.number().int().min(0),
  /** Answer tokens outside the sampler's cut-offs. */
  misses: z.number().int().min(0),
  miss_rate: z.number().min(0).max(1),
  /** The lowest rank of any answer token (0 = the model's first choice). */
  worst_rank: z.number().int().min(0),
  /** miss_rate is within the verifier's allowed miss rate. */
  passed: z.boolean(),
  /** The verifier's time for the check. */
  ms: z.number().min(0),
});
export type VerifyResponse = z.infer<typeof verifyResponse>;

/**
 * A host's sampling defaults for what a request leaves out (node/constants.ts,
 * INFERENCE_DEFAULTS): a check of such a request uses the cut-offs the host applied.
 */
export const HOST_SAMPLING_DEFAULTS = { temperature: 0, topK: 40, topP: 1 } as const;

/** The sampler cut-offs that matter for the check, from a request's sampling parameters. */
export function verifyCutoffs(params: { temperature?: number; topK?: number; topP?: number }): {
  topK: number;
  topP: number;
} {
  // At temperature 0 the sampler is greedy: only the first choice could have been picked.
  if ((params.temperature ?? HOST_SAMPLING_DEFAULTS.temperature) === 0) return { topK: 1, topP: 1 };
  return {
    topK: params.topK ?? HOST_SAMPLING_DEFAULTS.topK,
    topP: params.topP ?? HOST_SAMPLING_DEFAULTS.topP,
  };
}

/** Why a check was left without a verdict. */
export type UncheckedReason =
  | "no_verifier"
  | "verifier_unreachable"
  | "verifier_error"
  | "invalid_response"
  | "model_mismatch";

/**
 * One verifier's answer: a verdict ("passed" or "failed"), or "unchecked" when the verifier
 * could not be reached, answered with an error or a malformed body, or ran another model file.
 * Only a verdict counts for or against a host.
 */
export type CheckResult =
  | { outcome: "passed" | "failed"; check: VerifyResponse }
  | { outcome: "unchecked"; reason: UncheckedReason; detail: string };

export interface AskVerifierOptions {
  fetch?: typeof fetch;
  /** Default 30 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** The listed model file's sha256: a verifier that ran another file gives no verdict. */
  modelSha256?: string;
}

/** Asks the verifier at `httpUrl` (`POST /v1/verify`) to check `body`. Never throws. */
export async function askVerifier(
  httpUrl: string,
  body: VerifyBody,
  o: AskVerifierOptions = {},
): Promise<CheckResult> {
  const timeout = AbortSignal.timeout(o.timeoutMs ?? 30_000);
  const signal = o.signal ? AbortSignal.any([o.signal, timeout]) : timeout;
  let res: Response;
  let json: unknown;
  try {
    res = await (o.fetch ?? fetch)(`${httpUrl.replace(/\/+$/, "")}/v1/verify`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal,
    });
    json = await res.json().catch(() => undefined);
  } catch (e) {
    return {
      outcome: "unchecked",
      reason: "verifier_unreachable",
      detail: e instanceof Error ? e.message : String(e),
    };
  }
  if (!res.ok) {
    const error = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
    return {
      outcome: "unchecked",
      reason: "verifier_error",
      detail: `${res.status} ${error?.code ?? ""}: ${error?.message ?? "no error body"}`.trim(),
    };
  }
  const parsed = verifyResponse.safeParse(json);
  if (!parsed.success)
    return { outcome: "unchecked", reason: "invalid_response", detail: parsed.error.message };
  const check = parsed.data;
  if (o.modelSha256 && check.model_sha256 !== o.modelSha256.toLowerCase())
    return {
      outcome: "unchecked",
      reason: "model_mismatch",
      detail: `the verifier ran ${check.model_sha256}, not ${o.modelSha256}`,
    };
  return { outcome: check.passed ? "passed" : "failed", check };
}
