/**
 * The teacher-forced spot-check of an answer ("could the listed model have produced it?"):
 * the engine runs one forward pass over prompt + claimed answer and, at each answer
 * position, asks whether the host's sampler (top-k, then top-p, as llama.cpp chains them)
 * could have picked the claimed token. This file holds the scoring, which is pure; the
 * forward pass is InferenceEngine.verify (engine.ts).
 *
 * It is an economic, statistical check, not a proof: an honest host passes it on another
 * backend, a host that serves random text or a different model fails it almost at once,
 * but a host that serves text the listed model ranks highly (a distilled copy of it, say)
 * can pass. See the design notes ("Checking that the model ran") for how a failed check
 * becomes a bonded challenge.
 */
import type { Token } from "node-llama-cpp";
import type { ChatMessage } from "../../protocol/wire.ts";
import { ContextLengthExceededError } from "../errors.ts";

/** The sampler settings the answer was generated with; the check uses the same cut-offs. */
export interface VerifyParams {
  /** Tokens kept by top-k; 0 turns it off. Use 1 for an answer generated at temperature 0. */
  topK: number;
  /** Probability mass kept by top-p (after top-k); 1 turns it off. */
  topP: number;
}

export interface VerifyResult {
  /** Answer tokens checked (the answer as this model tokenizes it). */
  tokens: number;
  /** Answer tokens the sampler could not have picked. */
  misses: number;
  missRate: number;
  /** The lowest rank (0 = the model's first choice) of any answer token. */
  worstRank: number;
  /** missRate <= the allowed miss rate. */
  passed: boolean;
  /** Time of the check, from taking a slot to the result. */
  ms: number;
}

export const VERIFY_DEFAULTS = {
  /**
   * Logit tolerance (nats): a token whose logit is within this of a token ranked above it
   * counts as tied with it, since another backend (CPU vs GPU, another build, batched vs
   * one-token decoding) may order them the other way. Cross-backend logit differences are
   * around 1e-3..1e-2 for F16/Q8 weights and up to a few 1e-2 for Q4 kernels; 0.05 covers
   * them with room, and on the tiny test model (vocab 1024) it lets no more than ~0.3% of
   * random tokens through at top-k 1 (bench/verify.ts, node/inference/verify.test.ts).
   */
  logitTolerance: 0.05,
  /**
   * Allowed fraction of answer tokens that miss. Honest answers miss ~0% (a re-tokenized
   * answer may split a word differently from the generator, which costs a token or two);
   * random text and another model's text miss 60..99% on the tiny model at top-k 40 and
   * almost 100% at top-k 1. 0.1 sits far from both.
   */
  maxMissRate: 0.1,
  /**
   * Answer tokens evaluated per forward-pass call, at most: the check can be cancelled
   * between calls, and a re-alignment (see checkAnswer) wastes at most one call's tail. Calls
   * start at minChunkTokens after a re-alignment and double while the answer keeps fitting.
   */
  chunkTokens: 128,
  minChunkTokens: 8,
  /**
   * Tokens of each distribution the forward pass returns beyond top-k: the near-ties at the
   * cut-off (see logitTolerance) and the candidates for another split. Without top-k, the
   * `candidates` most likely tokens are returned.
   */
  windowMargin: 16,
  /** Candidates tried (most likely first) when looking for another split of the answer text. */
  candidates: 256,
} as const;

export interface TokenScore {
  /** Index of the token in the model's ranking (0 = most likely). */
  rank: number;
  /** Whether the sampler could have chosen it (within the tolerance). */
  fits: boolean;
}

/**
 * How many of the most likely tokens a forward pass returns per position for these cut-offs:
 * every token that can fit, with a margin. Returning the whole vocabulary at every position
 * costs far more than the forward pass itself once the vocabulary is large (see
 * bench/verify.ts).
 */
export function windowOf(params: VerifyParams): number {
  return params.topK > 0 ? params.topK + VERIFY_DEFAULTS.windowMargin : VERIFY_DEFAULTS.candidates;
}

/**
 * Scores one claimed token against the model's next-token distribution `probabilities`:
 * the top windowOf(params) tokens, most likely first, plus the claimed token (last when it
 * is outside the window; absent when the model's top-k sampler already dropped it). Values
 * may have any common scale when top-k is on (top-p then renormalizes over the top k, as
 * llama.cpp does); without top-k they are probabilities over the whole vocabulary. Tokens
 * whose probability exceeds the claimed one's by more than a factor e^tolerance are "clearly
 * above" it; the token fits when fewer than topK tokens are clearly above it and their mass
 * (renormalized over the top-k tokens, since llama.cpp applies top-p after top-k) is below
 * topP, again with the factor e^tolerance of slack.
 */
export function scoreToken(
  probabilities: ReadonlyMap<Token, number>,
  token: Token,
  params: VerifyParams,
  tolerance: number,
): TokenScore {
  const p = probabilities.get(token) ?? 0;
  const slack = Math.exp(tolerance);
  const threshold = p * slack;
  const limited = params.topK > 0;
  let rank = -1;
  let above = 0;
  let aboveMass = 0;
  let keptMass = 0;
  let i = 0;
  for (const [t, q] of probabilities) {
    if (limited && i < params.topK) keptMass += q;
    if (t === token) rank = i;
    if (q > threshold) {
      above++;
      aboveMass += q;
      // Sorted: nothing after a token at or below the threshold is above it.
    } else if (rank >= 0 && (!limited || i >= params.topK - 1)) break;
    i++;
  }
  if (rank < 0) rank = probabilities.size;
  const withinK = !limited || above < params.topK;
  const norm = limited ? keptMass : 1;
  const withinP = params.topP >= 1 || aboveMass / slack < params.topP * norm;
  return { rank, fits: withinK && withinP };
}

/** The model side of a check: a sequence that holds the prompt, and the tokenizer. */
export interface ForwardPass {
  /**
   * Evaluates `tokens` after what the sequence holds; returns the next-token distribution
   * after each of them as scoreToken reads it, with `claimed[i]`, the answer's token after
   * `tokens[i]` (when there is one), included.
   */
  evaluate: (
    tokens: Token[],
    claimed: (Token | undefined)[],
  ) => Promise<ReadonlyMap<Token, number>[]>;
  /** Drops the last `count` evaluated tokens. */
  rewind: (count: number) => Promise<void>;
  /** The model's own tokenization of a piece of the answer (no leading-space prefix added). */
  tokenize: (text: string) => Token[];
  /** A token's text in the answer after `previous` (undefined: the answer's first token). */
  text: (token: Token, previous: Token | undefined) => string;
  /** Throws when the check must end (cancelled, timed out, engine stopping). */
  check: () => void;
}

export interface AnswerCheck {
  scores: TokenScore[];
  /** Times another split of the answer text was taken (see checkAnswer). */
  realignments: number;
}

/**
 * Scores the answer token by token, starting from `initial` (the distribution after the
 * prompt). The answer arrives as text, and the model's tokenization of it is not always the
 * generator's split: a sampler may emit "th" + "er" where the tokenizer writes "the" + "r",
 * and the contexts (hence the next distributions) then differ. So where a token of the
 * tokenizer's split misses, a more likely token that the sampler could have chosen and whose
 * text also starts the rest of the answer is taken instead (the most likely such candidate),
 * the evaluated tokens after it are dropped, and the rest is re-tokenized after it. At
 * temperature 0 this recovers the generator's split exactly (its token is the first choice);
 * when sampling it is a greedy search that may still miss where the generator's split was
 * odd. It also gives a cheater's text a few extra chances (a short piece that starts the text
 * and fits), which the measurements in bench/verify.ts count in.
 */
export async function checkAnswer(
  pass: ForwardPass,
  answer: string,
  initial: ReadonlyMap<Token, number>,
  params: VerifyParams,
  tolerance: number,
): Promise<AnswerCheck> {
  const scores: TokenScore[] = [];
  let realignments = 0;
  let current = initial;
  let previous: Token | undefined;
  let rest = answer;
  let tail = pass.tokenize(rest);
  let size: number = VERIFY_DEFAULTS.chunkTokens;
  // Alternatives need the texts of the accepted tokens to cover the answer exactly; a piece
  // that does not round-trip (invalid UTF-8, say) ends the search for them.
  let aligned = true;
  while (tail.length > 0) {
    pass.check();
    const batch = tail.slice(0, size);
    const last = batch.length === tail.length;
    // The answer's last token is never fed back (as in generation).
    const fed = last ? batch.slice(0, -1) : batch;
    const claimed = fed.map((_, j) => batch[j + 1] ?? tail[batch.length]);
    const next = fed.length > 0 ? await pass.evaluate(fed, claimed) : [];
    let realigned = false;
    for (const [j, token] of batch.entries()) {
      const dist = j === 0 ? current : next[j - 1];
      if (!dist) throw new Error(`no distribution before answer token ${scores.length}`);
      const score = scoreToken(dist, token, params, tolerance);
      const alt = score.fits || !aligned ? undefined : alternative(dist, rest, previous);
      if (alt) {
        await pass.rewind(fed.length - j);
        scores.push({ rank: alt.rank, fits: true });
        realignments++;
        rest = rest.slice(alt.text.length);
        previous = alt.token;
        tail = rest.length > 0 ? pass.tokenize(rest) : [];
        if (tail.length > 0)
          [current] = (await pass.evaluate([alt.token], [tail[0]])) as [typeof dist];
        realigned = true;
        break;
      }
      scores.push(score);
      const text = pass.text(token, previous);
      if (aligned && rest.startsWith(text)) rest = rest.slice(text.length);
      else aligned = false;
      previous = token;
    }
    if (realigned) {
      size = VERIFY_DEFAULTS.minChunkTokens;
      continue;
    }
    const after = next[batch.length - 1];
    if (after) current = after;
    tail = tail.slice(batch.length);
    size = Math.min(size * 2, VERIFY_DEFAULTS.chunkTokens);
  }
  return { scores, realignments };

  /** The most likely token the sampler could have chosen whose text starts `text`. */
  function alternative(
    dist: ReadonlyMap<Token, number>,
    text: string,
    before: Token | undefined,
  ): { token: Token; rank: number; text: string } | undefined {
    let rank = 0;
    for (const token of dist.keys()) {
      if (rank >= VERIFY_DEFAULTS.candidates) return undefined;
      if (!scoreToken(dist, token, params, tolerance).fits) return undefined;
      const piece = pass.text(token, before);
      if (piece.length > 0 && text.startsWith(piece)) return { token, rank, text: piece };
      rank++;
    }
    return undefined;
  }
}

/** Aggregates token scores into the check's verdict. */
export function verdict(scores: TokenScore[], maxMissRate: number, ms: number): VerifyResult {
  const misses = scores.filter((s) => !s.fits).length;
  const missRate = scores.length === 0 ? 0 : misses / scores.length;
  return {
    tokens: scores.length,
    misses,
    missRate,
    worstRank: scores.reduce((w, s) => Math.max(w, s.rank), 0),
    passed: missRate <= maxMissRate,
    ms,
  };
}

/**
 * Prompt and answer do not fit the model's context (code context_length_exceeded, like a
 * prompt that does not fit for generation).
 */
export class VerifyTooLongError extends ContextLengthExceededError {
  constructor(promptTokens: number, answerTokens: number, contextLength: number) {
    super(promptTokens + answerTokens, contextLength);
    this.message = `the prompt and answer are ${promptTokens} + ${answerTokens} tokens; this model's context holds ${contextLength}`;
  }
}

export interface VerifyRequest {
  /** The chat as the renter sent it; formatted exactly as for generation. */
  messages: ChatMessage[];
  /** The answer text the host returned. */
  answer: string;
  /** The request's sampler cut-offs; default top-k 40 and top-p 1, generation's defaults. */
  params?: Partial<VerifyParams>;
  /** Allowed miss rate; default VERIFY_DEFAULTS.maxMissRate. */
  maxMissRate?: number;
  /** Logit tolerance in nats; default VERIFY_DEFAULTS.logitTolerance. */
  tolerance?: number;
  /** Aborting it stops the check between forward-pass chunks. */
  signal?: AbortSignal;
  /** From arrival (including time queued) to the result; default the engine's. */
  timeoutMs?: number;
}
