/**
 * The host's durable memory of its sessions: for each, the terms, what it has served, the
 * latest receipt the renter signed and what the chain has paid. This is money: a receipt
 * the host accepted is written and synced to disk (temp file, fsync, rename, fsync of the
 * folder) before the answer it pays for the next one starts, so a crash or a restart never
 * loses what the renter already owes.
 */
import { mkdir, open, readFile, rename } from "node:fs/promises";
import path from "node:path";
import type { SessionTermsWire, SignedReceiptWire } from "../../protocol/sessions.ts";
import { StateFileError } from "./state.ts";

export const SESSION_RECORD_STATUS = {
  /** Serving; the renter may ask again. */
  open: "open",
  /** Closing with the latest receipt (closeSession) is under way or being retried. */
  closing: "closing",
  /** Settled on chain (by anyone): nothing more to do. */
  done: "done",
} as const;
export type SessionRecordStatus = keyof typeof SESSION_RECORD_STATUS;

/** Cumulative figures of a session (amounts as decimal strings). */
export interface SessionTotals {
  tokens: number;
  amount: string;
  digest: `0x${string}`;
}

export interface SessionRecord {
  id: string;
  terms: SessionTermsWire;
  /** The node's model id the session is served with. */
  model: string;
  status: SessionRecordStatus;
  /** What this host has served (answers delivered in full). */
  served: SessionTotals;
  /** The latest receipt the renter signed (covers `served`, or all but the last answer). */
  receipt?: SignedReceiptWire;
  /** The cumulative amount the chain has paid this host (checkpoints). */
  paid: string;
  /** Answers that failed or were cancelled part-way (not charged). */
  aborted: number;
  /** Unix ms of the last request. */
  lastUsedAt: number;
  /** Why the session ended, once done: who closed it and what was paid. */
  outcome?: { reason: string; paid: string; refund?: string };
  updatedAt: number;
}

/**
 * The store's format: 2 since session ids are terms hashes and the terms carry the fee
 * discount and the salt (a version 1 file is set aside like another chain's).
 */
const STORE_VERSION = 2;

interface SessionFile {
  version: typeof STORE_VERSION;
  chainId: number;
  sessions: `0x${string}`;
  host: `0x${string}`;
  records: Record<string, SessionRecord>;
}

export interface SessionStore {
  get: (id: string) => SessionRecord | undefined;
  all: () => SessionRecord[];
  /** Applies `patch` (or inserts a record) in memory; `save` makes it durable. */
  put: (record: SessionRecord) => void;
  update: (id: string, patch: Partial<SessionRecord>) => SessionRecord | undefined;
  /** Writes and fsyncs the whole store (serialized: one write at a time, the latest wins). */
  save: () => Promise<void>;
}

export async function openSessionStore(
  file: string,
  identity: { chainId: number; sessions: `0x${string}`; host: `0x${string}` },
): Promise<SessionStore> {
  let data: SessionFile | undefined;
  try {
    data = JSON.parse(await readFile(file, "utf8")) as SessionFile;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT")
      throw new StateFileError(`cannot read the session store ${file}: ${(e as Error).message}`);
  }
  const sessions = identity.sessions.toLowerCase() as `0x${string}`;
  const host = identity.host.toLowerCase() as `0x${string}`;
  // Another chain's, contract's, key's or format's sessions never apply here: keep that file aside
  // rather than overwrite money records.
  if (
    data &&
    (data.version !== STORE_VERSION ||
      data.chainId !== identity.chainId ||
      data.sessions !== sessions ||
      data.host !== host)
  ) {
    await rename(file, `${file}.${Date.now()}.other`);
    data = undefined;
  }
  const state: SessionFile = data ?? {
    version: STORE_VERSION,
    chainId: identity.chainId,
    sessions,
    host,
    records: {},
  };
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true });
  let writing: Promise<void> = Promise.resolve();
  return {
    get: (id) => state.records[id],
    all: () => Object.values(state.records),
    put: (record) => {
      state.records[record.id] = { ...record, updatedAt: Date.now() };
    },
    update: (id, patch) => {
      const r = state.records[id];
      if (!r) return undefined;
      Object.assign(r, patch, { updatedAt: Date.now() });
      return r;
    },
    save: () => {
      const text = JSON.stringify(state, null, 1);
      writing = writing.catch(() => undefined).then(() => writeDurably(file, text));
      return writing;
    },
  };
}

/** Replaces `file` with `text` so that a crash leaves the old or the new file, synced. */
export async function writeDurably(file: string, text: string) {
  const tmp = `${file}.${process.pid}.tmp`;
  const handle = await open(tmp, "w");
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
  const dir = await open(path.dirname(file), "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
