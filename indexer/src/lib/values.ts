/** Small pure conversions shared by the handlers. */
import { WORK } from "../../../abis/index.ts";

/** Unique, chain-ordered id of a log: `${blockNumber}-${logIndex}` zero-padded so text order is chain order. */
export function eventId(event: { block: { number: bigint }; log: { logIndex: number } }): string {
  return `${event.block.number.toString().padStart(12, "0")}-${event.log.logIndex.toString().padStart(6, "0")}`;
}

/** Decoded event args as JSON: bigints become decimal strings, tuples keep their field names. */
export function jsonArgs(args: unknown): unknown {
  return JSON.parse(
    JSON.stringify(args ?? {}, (_k, v) => (typeof v === "bigint" ? v.toString() : v)),
  );
}

/** A right-zero-padded bytes32 holding UTF-8 text (model ids, GPU names, regions) as text. */
export function bytes32ToText(value: `0x${string}`): string {
  const hex = value.slice(2).replace(/(00)+$/, "");
  const bytes = Buffer.from(hex, "hex");
  const text = bytes.toString("utf8");
  // Not text (a real digest): show it as hex.
  return /^[\x20-\x7e\u00a0-\uffff]*$/.test(text) && !text.includes("\ufffd") ? text : value;
}

/** Escrow ids of dispute bonds: the job's id with the top bit set (JobMarketplace.BOND_ID). */
export const BOND_ID_BIT = 1n << 255n;

/** The UTC day of a unix time, YYYY-MM-DD. */
export function dayOf(timestamp: bigint): string {
  return new Date(Number(timestamp) * 1000).toISOString().slice(0, 10);
}

/**
 * A work (IReputationSystem.Work and IProofSystem.Work, the same enum: Job, Session) by its
 * label, with its id in the column of its kind: exactly one of `jobId` and `sessionId` is set.
 */
export function workOf(kind: number, id: bigint) {
  const label = WORK[kind];
  if (label === undefined) throw new Error(`unknown work kind ${kind} of ${id}`);
  return label === "Job"
    ? { kind: label, jobId: id, sessionId: null }
    : { kind: label, jobId: null, sessionId: id };
}

export {
  CHALLENGE_KIND,
  CHALLENGE_STATUS,
  CLOSE_REASON,
  HOST_STATUS,
  JOB_STATUS,
  OFFENCE,
  SESSION_STATUS,
  SETTLEMENT,
  WORK,
} from "../../../abis/index.ts";
