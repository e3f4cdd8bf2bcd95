/**
 * The OpenAPI parts of the ProofSystem's data: proofs, challenges, a host's proof record, and
 * the /challenges and /proofs paths (query parameters from the zod schemas that validate them).
 */
import { CHALLENGE_KIND, WORK } from "../abis/enums.ts";
import { CHALLENGE_STATUSES, challengesQuery, proofsQuery } from "./params.ts";

type Query = typeof challengesQuery | typeof proofsQuery;

const amount = { type: "string", description: "decimal integer, token base units" };
const nullableAmount = { type: ["string", "null"], description: amount.description };
const id = { type: ["string", "null"] };

export const proofItem = {
  type: "object",
  description:
    "an accepted submission: the billed token count is exactly the length of the output the commitment opens to (cryptographic; not which model produced it)",
  properties: {
    id: { type: "string", description: "the event id (block-logIndex)" },
    work: { enum: WORK },
    jobId: id,
    sessionId: id,
    host: { type: "string" },
    modelId: { type: "string" },
    requestHash: { type: "string" },
    requestMatches: {
      type: "boolean",
      description:
        "a job's requestHash equals the prompt hash it was posted with (the contract cannot check it); always true for a session",
    },
    binding: { type: "string", description: "decimal field element" },
    fromCommitment: { type: "string", description: "decimal field element" },
    commitment: {
      type: "string",
      description: "Poseidon output commitment after this submission (decimal)",
    },
    fromTokens: { type: "string", description: "tokens proven before this submission" },
    tokens: { type: "string", description: "tokens proven in all after it" },
    chunks: { type: "integer", description: "chunks (one Groth16 proof each) in this submission" },
    verifier: { type: "string" },
    at: { type: "string" },
  },
};

export const challengeItem = {
  type: "object",
  description: "a bonded challenge (economic, not a proof)",
  properties: {
    id: { type: "string" },
    kind: {
      enum: CHALLENGE_KIND,
      description:
        "Count: the host must prove the billed count by the deadline; Output: an arbiter decides whether the answer is the listed model's",
    },
    work: { enum: WORK },
    jobId: id,
    sessionId: id,
    challenger: { type: "string" },
    host: { type: "string" },
    token: { type: "string", description: "the bond's token: the work's payment token" },
    bond: amount,
    tokens: { type: "string", description: "the billed tokens challenged" },
    evidenceHash: { type: ["string", "null"], description: "Output only" },
    deadline: { type: "string", description: "response (Count) or arbitration (Output) deadline" },
    status: {
      enum: CHALLENGE_STATUSES,
      description:
        "host won: Answered, Rejected; host lost (slashed): Unanswered, Upheld; neither: Unarbitrated (no arbiter by the deadline), Voided (the model lost every verifier)",
    },
    bondTo: { type: ["string", "null"], description: "who was credited the bond when it ended" },
    slashed: { ...nullableAmount, description: "FAB slashed from the host when it ended" },
    offenceNotRecorded: {
      type: ["string", "null"],
      description: "the reputation system's revert data when it refused to record the offence",
    },
    openedAt: { type: "string" },
    resolvedAt: { type: ["string", "null"] },
  },
};

const count = { type: "integer" };
/** `record.proofs` and `record.challenges` of GET /hosts/{address}. */
export const proofRecordProperties = {
  proofs: {
    type: "object",
    properties: {
      submissions: count,
      jobs: count,
      sessions: count,
      tokens: { type: "string" },
      chunks: count,
    },
  },
  challenges: {
    type: "object",
    description: "challenges of the host's work by outcome",
    properties: {
      total: count,
      open: count,
      won: { type: "integer", description: "Answered + Rejected" },
      lost: { type: "integer", description: "Unanswered + Upheld (each slashed)" },
      answered: count,
      rejected: count,
      unanswered: count,
      upheld: count,
      unarbitrated: count,
      voided: count,
      slashed: { ...amount, description: "FAB slashed for lost challenges" },
    },
  },
};

/** The /challenges and /proofs paths; `queryParameters` and the error response are openapi.ts's. */
export function proofPaths(queryParameters: (schema: Query) => object[], error: object) {
  const ok = (description: string, schema: object) => ({
    description,
    content: { "application/json": { schema } },
  });
  const page = (name: string, items: object) => ({
    type: "object",
    properties: { [name]: { type: "array", items }, nextCursor: { type: ["string", "null"] } },
  });
  return {
    "/challenges": {
      get: {
        summary:
          "Challenges, newest first, filtered by host, challenger, kind, status, work, job and session",
        parameters: queryParameters(challengesQuery),
        responses: {
          "200": ok("A page of challenges and nextCursor", page("challenges", challengeItem)),
          "400": error,
        },
      },
    },
    "/challenges/{id}": {
      get: {
        summary:
          "A challenge with the offence it recorded against the host (or null) and the proofs of its work",
        parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
        responses: {
          "200": ok("The challenge", {
            ...challengeItem,
            properties: {
              ...challengeItem.properties,
              offence: { type: ["object", "null"] },
              proofs: { type: "array", items: proofItem },
            },
          }),
          "400": error,
          "404": error,
        },
      },
    },
    "/proofs": {
      get: {
        summary:
          "Accepted proof submissions, newest first, filtered by host, work, job and session",
        parameters: queryParameters(proofsQuery),
        responses: {
          "200": ok("A page of proofs and nextCursor", page("proofs", proofItem)),
          "400": error,
        },
      },
    },
  };
}
