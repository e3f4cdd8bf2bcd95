/**
 * ProofSystem: accepted output-count proofs of jobs and sessions, bonded challenges from their
 * opening to their outcome, each host's proof and challenge record, the verifier registry and
 * the contract's parameters. Nothing is read from the chain. A proof is cryptographic (the
 * billed count against the committed output); a challenge is economic (docs/proofs.md).
 * A challenge's bond is a lock of the ProofSystem's in the escrow: PaymentEscrow.ts keeps it
 * out of the volume, and its end is here (`bondTo`, from ChallengeResolved).
 */
import type { Context } from "ponder:registry";
import {
  challenge,
  challengeMinBond,
  hostProofRecord,
  job,
  modelVerifier,
  proof,
  proofConfig,
} from "ponder:schema";
import { zeroAddress } from "viem";
import { proofSystemAbi } from "../../abis/index.ts";
import { indexContract } from "./lib/index-contract.ts";
import { type CHALLENGE_KIND, CHALLENGE_STATUS, eventId, workOf } from "./lib/values.ts";

type Db = Context["db"];
type ProofsRow = typeof hostProofRecord.$inferSelect;
type Status = (typeof challenge.$inferSelect)["status"];

const CONFIG_ID = "ProofSystem";

async function setConfig(
  db: Db,
  at: bigint,
  change: Partial<Omit<typeof proofConfig.$inferInsert, "id" | "updatedAt">>,
): Promise<void> {
  await db
    .insert(proofConfig)
    .values({ id: CONFIG_ID, ...change, updatedAt: at })
    .onConflictDoUpdate({ ...change, updatedAt: at });
}

/** Applies `change` to the host's proof record, created (all zero) on first sight. */
async function updateProofs(
  db: Db,
  address: `0x${string}`,
  at: bigint,
  change: (row: ProofsRow) => Partial<ProofsRow>,
): Promise<void> {
  const fresh: ProofsRow = {
    host: address,
    proofs: 0,
    jobsProven: 0,
    sessionsProven: 0,
    provenTokens: 0n,
    provenChunks: 0,
    challenges: 0,
    challengesOpen: 0,
    challengesAnswered: 0,
    challengesRejected: 0,
    challengesUnanswered: 0,
    challengesUpheld: 0,
    challengesUnarbitrated: 0,
    challengesVoided: 0,
    challengeSlashed: 0n,
    updatedAt: at,
  };
  await db
    .insert(hostProofRecord)
    .values({ ...fresh, ...change(fresh) })
    .onConflictDoUpdate((r) => ({ ...change(r), updatedAt: at }));
}

/** The host record's counter of each way a challenge ends. */
const OUTCOME_COUNTER = {
  Answered: "challengesAnswered",
  Rejected: "challengesRejected",
  Unanswered: "challengesUnanswered",
  Upheld: "challengesUpheld",
  Unarbitrated: "challengesUnarbitrated",
  Voided: "challengesVoided",
} as const satisfies Partial<Record<Status, keyof ProofsRow>>;

function outcomeOf(value: number, challengeId: bigint): keyof typeof OUTCOME_COUNTER {
  const label = CHALLENGE_STATUS[value];
  if (label === undefined || !(label in OUTCOME_COUNTER)) {
    throw new Error(`challenge ${challengeId} resolved with unknown outcome ${value}`);
  }
  return label as keyof typeof OUTCOME_COUNTER;
}

/** What both kinds of challenge carry when they open. */
interface Opened {
  challengeId: bigint;
  work: number;
  id: bigint;
  challenger: `0x${string}`;
  host: `0x${string}`;
  modelId: `0x${string}`;
  token: `0x${string}`;
  bond: bigint;
  tokens: bigint;
  deadline: bigint;
}

async function openChallenge(
  db: Db,
  event: {
    block: { number: bigint; timestamp: bigint };
    transaction: { hash: `0x${string}` };
  },
  kind: (typeof CHALLENGE_KIND)[number],
  a: Opened,
  evidenceHash: `0x${string}` | null,
): Promise<void> {
  const at = event.block.timestamp;
  const { kind: work, jobId, sessionId } = workOf(a.work, a.id);
  await db.insert(challenge).values({
    id: a.challengeId,
    kind,
    work,
    jobId,
    sessionId,
    challenger: a.challenger,
    host: a.host,
    modelId: a.modelId,
    token: a.token,
    bond: a.bond,
    tokens: a.tokens,
    evidenceHash,
    deadline: a.deadline,
    status: "Open",
    openedAt: at,
    openedBlock: event.block.number,
    openedTx: event.transaction.hash,
  });
  await updateProofs(db, a.host, at, (r) => ({
    challenges: r.challenges + 1,
    challengesOpen: r.challengesOpen + 1,
  }));
}

indexContract("ProofSystem", proofSystemAbi, {
  OutputProven: async ({ event, context }) => {
    const a = event.args;
    const at = event.block.timestamp;
    const { kind: work, jobId, sessionId } = workOf(a.work, a.id);
    // The contract binds whatever request hash a job's host passes; the job's is its prompt hash.
    const posted = jobId === null ? null : await context.db.find(job, { id: jobId });
    const requestMatches =
      jobId === null || posted?.promptHash.toLowerCase() === a.requestHash.toLowerCase();
    await context.db.insert(proof).values({
      id: eventId(event),
      work,
      jobId,
      sessionId,
      host: a.host,
      modelId: a.modelId,
      requestHash: a.requestHash,
      requestMatches,
      binding: a.binding,
      fromCommitment: a.fromCommitment,
      commitment: a.commitment,
      fromTokens: a.fromTokens,
      tokens: a.tokens,
      chunks: Number(a.chunks),
      verifier: a.verifier,
      at,
      blockNumber: event.block.number,
      txHash: event.transaction.hash,
    });
    await updateProofs(context.db, a.host, at, (r) => ({
      proofs: r.proofs + 1,
      jobsProven: r.jobsProven + (work === "Job" ? 1 : 0),
      sessionsProven: r.sessionsProven + (work === "Session" && a.fromTokens === 0n ? 1 : 0),
      provenTokens: r.provenTokens + (a.tokens - a.fromTokens),
      provenChunks: r.provenChunks + Number(a.chunks),
    }));
  },
  CountChallengeOpened: async ({ event, context }) => {
    await openChallenge(context.db, event, "Count", event.args, null);
  },
  OutputChallengeOpened: async ({ event, context }) => {
    await openChallenge(context.db, event, "Output", event.args, event.args.evidenceHash);
  },
  OffenceNotRecorded: async ({ event, context }) => {
    const { challengeId: id, reason } = event.args;
    if (!(await context.db.find(challenge, { id }))) return;
    await context.db.update(challenge, { id }).set({ offenceNotRecorded: reason });
  },
  ChallengeResolved: async ({ event, context }) => {
    const { challengeId: id, outcome, bondTo, slashed } = event.args;
    const at = event.block.timestamp;
    const status = outcomeOf(outcome, id);
    const row = await context.db.find(challenge, { id });
    if (!row) return;
    await context.db.update(challenge, { id }).set({
      status,
      bondTo,
      slashed,
      resolvedAt: at,
      resolvedTx: event.transaction.hash,
    });
    const counter = OUTCOME_COUNTER[status];
    await updateProofs(context.db, row.host, at, (r) => ({
      challengesOpen: r.challengesOpen - 1,
      [counter]: r[counter] + 1,
      challengeSlashed: r.challengeSlashed + slashed,
    }));
  },
  VerifierSet: async ({ event, context }) => {
    const { modelId, verifier } = event.args;
    const updatedAt = event.block.timestamp;
    await context.db
      .insert(modelVerifier)
      .values({ modelId, verifier, updatedAt })
      .onConflictDoUpdate({ verifier, updatedAt });
  },
  VerifierRemoved: async ({ event, context }) => {
    await context.db.delete(modelVerifier, { modelId: event.args.modelId });
  },
  DefaultVerifierSet: async ({ event, context }) => {
    const { verifier } = event.args;
    await setConfig(context.db, event.block.timestamp, {
      defaultVerifier: verifier === zeroAddress ? null : verifier,
    });
  },
  ReputationUpdated: async ({ event, context }) => {
    const { current } = event.args;
    await setConfig(context.db, event.block.timestamp, {
      reputation: current === zeroAddress ? null : current,
    });
  },
  WindowsUpdated: async ({ event, context }) => {
    await setConfig(context.db, event.block.timestamp, { ...event.args });
  },
  BondBpsUpdated: async ({ event, context }) => {
    await setConfig(context.db, event.block.timestamp, { bondBps: event.args.current });
  },
  MinBondUpdated: async ({ event, context }) => {
    const { token, current: amount } = event.args;
    const updatedAt = event.block.timestamp;
    await context.db
      .insert(challengeMinBond)
      .values({ token, amount, updatedAt })
      .onConflictDoUpdate({ amount, updatedAt });
  },
});
