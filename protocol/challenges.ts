/**
 * The evidence of an output challenge (ProofSystem.challengeSessionOutput / challengeJobOutput):
 * what the challenger reveals to the resolvers, and only to them, to show that an answer the
 * host was paid for is not what the listed model produces for its request.
 *
 * On chain the challenge carries only `evidenceHash`, the keccak256 of the evidence's canonical
 * JSON (keys sorted, no spaces), so neither side can change the evidence after the challenge
 * opened. The evidence is checked against what the host itself committed to on chain:
 * - a session: the host presented receipts whose running digest is
 *   d(n) = keccak256(abi.encode(d(n-1), requestHash(n), outputHash(n))) (protocol/sessions.ts);
 *   the evidence lists every answer's (requestHash, outputHash) up to a digest the host
 *   checkpointed (SessionCheckpointed), and reveals the request and the answer of one of them;
 * - a job: the request hashes to the job's promptHash (JobPosted) and the answer to the output
 *   hash the host completed it with (JobCompleted).
 * A `salt` keeps the hash from confirming a guessed prompt to anyone who reads the chain.
 *
 * What the evidence shows is then checked by re-execution (a teacher-forced check by hosts
 * serving the same model file, protocol/verify.ts): a statistical judgement, not a proof.
 */
import { type Hex, keccak256, stringToHex } from "viem";
import { z } from "zod";
import { outputHash, requestHash } from "./hashing.ts";
import { EMPTY_DIGEST, nextDigestOf } from "./sessions.ts";
import { samplingParamsSchema } from "./wire.ts";

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "a 32-byte hex string") as z.ZodType<Hex>;
const address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, "an address") as unknown as z.ZodType<`0x${string}`>;
const decimal = z.string().regex(/^\d{1,78}$/, "a decimal string");

/** One answer of a session as its digest covers it. */
export const digestStepSchema = z.object({ request: hex32, output: hex32 });
export type DigestStep = z.infer<typeof digestStepSchema>;

/** The most answers a session's evidence may list (a session of that many answers is unusual). */
export const MAX_EVIDENCE_STEPS = 10_000;

const message = z.object({
  role: z.enum(["system", "user", "assistant"]),
  content: z.string(),
});

export const outputEvidenceSchema = z
  .object({
    v: z.literal(1),
    chainId: z.number().int().positive(),
    /** The ProofSystem the challenge is opened on. */
    proofSystem: address,
    work: z.enum(["job", "session"]),
    /** The job or session id. */
    id: decimal,
    /** The model as hosts serve it (chainModelId(model) is the work's modelId). */
    model: z.string().min(1).max(128),
    /** The request exactly as the host served it (its requestHash is what the host committed to). */
    request: z.object({
      messages: z.array(message).min(1).max(1024),
      params: samplingParamsSchema,
    }),
    /** The answer the host returned for it. */
    answer: z
      .string()
      .min(1)
      .max(256 * 1024),
    /** Sessions: every answer up to a checkpointed digest, and which one is challenged. */
    steps: z.array(digestStepSchema).max(MAX_EVIDENCE_STEPS).optional(),
    index: z.number().int().min(0).optional(),
    /** Random: the hash on chain confirms nothing about a guessed prompt. */
    salt: hex32,
  })
  .refine((e) => e.work === "job" || (e.steps !== undefined && e.index !== undefined), {
    message: "session evidence lists its steps and the challenged index",
  });
export type OutputEvidence = z.infer<typeof outputEvidenceSchema>;

/** JSON with every object's keys sorted and no whitespace: one text per value. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** What the challenge stores on chain: keccak256 of the evidence's canonical JSON. */
export function evidenceHash(e: OutputEvidence): Hex {
  return keccak256(stringToHex(canonicalJson(e)));
}

/** The running digest after `steps` (EMPTY_DIGEST for none). */
export function foldDigest(steps: readonly DigestStep[]): Hex {
  let d: Hex = EMPTY_DIGEST;
  for (const s of steps) d = nextDigestOf(d, s.request, s.output);
  return d;
}

/** What the host committed to on chain for the challenged work. */
export type WorkCommitment =
  /** Every digest the host checkpointed the session with (SessionCheckpointed). */
  | { work: "session"; digests: readonly Hex[] }
  /** The job's promptHash (JobPosted) and outputHash (JobCompleted). */
  | { work: "job"; promptHash: Hex; outputHash: Hex };

/**
 * Whether the evidence is what the host committed to: undefined when it is, else why not. It
 * says nothing about whether the answer is the model's: that is the re-execution's question.
 */
export function evidenceMismatch(e: OutputEvidence, c: WorkCommitment): string | undefined {
  if (e.work !== c.work) return `the evidence is about a ${e.work}, the challenge a ${c.work}`;
  const request = requestHash({ messages: e.request.messages, params: e.request.params });
  const output = outputHash(e.answer);
  if (c.work === "job") {
    if (request !== c.promptHash) return "the request does not hash to the job's promptHash";
    if (output !== c.outputHash) return "the answer does not hash to the job's output hash";
    return undefined;
  }
  const steps = e.steps ?? [];
  const step = e.index === undefined ? undefined : steps[e.index];
  if (!step) return `the challenged index ${e.index} is not among the ${steps.length} steps`;
  if (step.request !== request) return "the request does not hash to its step's request hash";
  if (step.output !== output) return "the answer does not hash to its step's output hash";
  if (digestCovers(steps, e.index ?? 0, c.digests)) return undefined;
  return "the steps do not fold to a digest the host checkpointed at or after the challenged answer";
}

/**
 * Whether the digest after some prefix of `steps` that includes step `index` is one of
 * `digests`: the host checkpointed the answer at `index` (or a later one).
 */
export function digestCovers(
  steps: readonly DigestStep[],
  index: number,
  digests: readonly Hex[],
): boolean {
  const wanted = new Set(digests.map((d) => d.toLowerCase()));
  let d: Hex = EMPTY_DIGEST;
  for (const [i, s] of steps.entries()) {
    d = nextDigestOf(d, s.request, s.output);
    if (i >= index && wanted.has(d.toLowerCase())) return true;
  }
  return false;
}
