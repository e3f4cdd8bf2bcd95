/** zod schemas of the REST query parameters, shared by validation and the OpenAPI document. */
import { stringToHex } from "viem";
import { z } from "zod";
import { CHALLENGE_KIND, CHALLENGE_STATUS, SESSION_STATUS, WORK } from "../abis/enums.ts";
import { InvalidParameterError } from "./errors.ts";

export const address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, "expected a 0x-prefixed 20-byte address")
  .transform((s) => s.toLowerCase() as `0x${string}`);

/** A model id: a 0x bytes32, or a name of at most 32 bytes (encoded right-padded, as hosts register it). */
export const modelId = z
  .string()
  .min(1)
  .refine(
    (s) => /^0x[0-9a-fA-F]{64}$/.test(s) || Buffer.byteLength(s) <= 32,
    "expected a bytes32 or a name of <= 32 bytes",
  )
  .transform(
    (s) =>
      (/^0x[0-9a-fA-F]{64}$/.test(s)
        ? s.toLowerCase()
        : stringToHex(s, { size: 32 })) as `0x${string}`,
  );

const uintString = z
  .string()
  .regex(/^\d{1,78}$/, "expected a non-negative integer")
  .transform((s) => BigInt(s));

export const hostsQuery = z
  .object({
    model: modelId.optional(),
    token: address.default("0x0000000000000000000000000000000000000000"),
    maxPrice: uintString.optional(),
    minScore: z.coerce.number().int().min(0).max(1000).optional(),
    region: z.string().min(1).max(32).optional(),
    gpu: z.string().min(1).max(32).optional(),
    sort: z.enum(["price", "score", "recent"]).default("score"),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z.string().max(200).optional(),
  })
  .strict();

export const dailyQuery = z
  .object({
    from: z.iso.date().optional(),
    to: z.iso.date().optional(),
    limit: z.coerce.number().int().min(1).max(366).default(30),
  })
  .strict();

export const jobIdParam = z
  .string()
  .regex(/^\d{1,78}$/, "expected a job id")
  .transform((s) => BigInt(s));

export const sessionIdParam = z
  .string()
  .regex(/^\d{1,78}$/, "expected a session id")
  .transform((s) => BigInt(s));

/** GET /sessions: filters, newest first; `cursor` is the `nextCursor` of the previous page. */
export const sessionsQuery = z
  .object({
    renter: address.optional(),
    host: address.optional(),
    model: modelId.optional(),
    token: address.optional(),
    status: z.enum(SESSION_STATUS).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z
      .string()
      .regex(/^\d{12}-\d{6}$/, "expected a nextCursor of this endpoint")
      .optional(),
  })
  .strict();

/** The outcomes of a dispute, as indexer/ponder.schema.ts's disputeOutcome (not a contract enum). */
export const DISPUTE_OUTCOMES = ["Open", "HostWon", "HostLost", "Unarbitrated"] as const;

/** GET /disputes: filters, newest first; `cursor` is the `nextCursor` of the previous page. */
export const disputesQuery = z
  .object({
    host: address.optional(),
    renter: address.optional(),
    outcome: z.enum(DISPUTE_OUTCOMES).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z
      .string()
      .regex(/^\d{1,78}$/, "expected a nextCursor of this endpoint")
      .transform((s) => BigInt(s))
      .optional(),
  })
  .strict();

/** A challenge's states as stored (`None`, no such challenge, never is). */
export const CHALLENGE_STATUSES = CHALLENGE_STATUS.filter(
  (s): s is Exclude<(typeof CHALLENGE_STATUS)[number], "None"> => s !== "None",
);

export const challengeIdParam = z
  .string()
  .regex(/^\d{1,78}$/, "expected a challenge id")
  .transform((s) => BigInt(s));

const workId = (what: string) =>
  z
    .string()
    .regex(/^\d{1,78}$/, `expected a ${what} id`)
    .transform((s) => BigInt(s));

/** GET /challenges: filters, newest first; `cursor` is the `nextCursor` of the previous page. */
export const challengesQuery = z
  .object({
    host: address.optional(),
    challenger: address.optional(),
    kind: z.enum(CHALLENGE_KIND).optional(),
    status: z.enum(CHALLENGE_STATUSES).optional(),
    work: z.enum(WORK).optional(),
    job: workId("job").optional(),
    session: workId("session").optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z
      .string()
      .regex(/^\d{1,78}$/, "expected a nextCursor of this endpoint")
      .transform((s) => BigInt(s))
      .optional(),
  })
  .strict();

/** GET /proofs: filters, newest first; `cursor` is the `nextCursor` of the previous page (an event id). */
export const proofsQuery = z
  .object({
    host: address.optional(),
    work: z.enum(WORK).optional(),
    job: workId("job").optional(),
    session: workId("session").optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z
      .string()
      .regex(/^\d{12}-\d{6}$/, "expected a nextCursor of this endpoint")
      .optional(),
  })
  .strict();

/** A governor proposal id (a uint256 hash, in decimal). */
export const proposalIdParam = z
  .string()
  .regex(/^\d{1,78}$/, "expected a proposal id (decimal)")
  .transform((s) => BigInt(s));

/** GET /governance/proposals: newest first; `cursor` is the `nextCursor` of the previous page. */
export const proposalsQuery = z
  .object({
    proposer: address.optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z
      .string()
      .regex(/^\d{12}-\d{6}$/, "expected a nextCursor of this endpoint")
      .optional(),
  })
  .strict();

/** What the treasury did with the FAB a buyback bought (IFabstirTreasury.BuybackDestination). */
export const BUYBACK_DESTINATIONS = ["Burn", "StakersPool"] as const;

/** GET /tokenomics/buybacks: newest first; `cursor` is the `nextCursor` of the previous page. */
export const buybacksQuery = z
  .object({
    token: address.optional(),
    destination: z.enum(BUYBACK_DESTINATIONS).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z
      .string()
      .regex(/^\d{12}-\d{6}$/, "expected a nextCursor of this endpoint")
      .optional(),
  })
  .strict();

/** Parses `input` with `schema` or throws an InvalidParameterError naming the parameter. */
export function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw InvalidParameterError.fromZod(result.error);
  return result.data;
}
