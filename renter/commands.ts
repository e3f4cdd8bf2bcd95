/**
 * The renter CLI's commands as functions: each takes a Renter and plain options and returns
 * plain data, so scripts and the end-to-end test call exactly what the CLI runs. Printing
 * (human text or --json) is the CLI's business; progress goes through `onProgress`.
 */

import { sessionManagerAbi } from "../abis/index.ts";
import { ContractRevertError } from "../protocol/chain-client.ts";
import type { ChatCompletionBody } from "../protocol/openai.ts";
import { readSessionState } from "../protocol/sessions.ts";
import type { Renter, RunEvent, RunResult } from "./client.ts";
import type { HostListing } from "./discovery.ts";
import { RenterUsageError, TransactionRefusedError } from "./errors.ts";
import { readSessionTerms, type SessionAnswer, type SessionEvent } from "./sessions.ts";

export function listHosts(
  renter: Renter,
  q: { model?: string; sort?: "price" | "score" | "recent"; token?: string; limit?: number },
): Promise<HostListing[]> {
  if (q.sort === "price" && !q.model) throw new RenterUsageError("--sort price needs --model");
  return renter.discovery.hosts(q);
}

export async function showHost(renter: Renter, address: string) {
  if (!/^0x[0-9a-fA-F]{40}$/.test(address))
    throw new RenterUsageError(`${address} is not an address (0x + 40 hex digits)`);
  const host = await renter.discovery.host(address);
  if (!host) throw new RenterUsageError(`host ${address} is not registered`);
  return host;
}

export interface PromptOptions {
  prompt: string;
  model: string;
  system?: string;
  by?: "price" | "score";
  host?: `0x${string}`;
  token?: string;
  maxTokens?: number;
  temperature?: number;
  seed?: number;
  accept?: boolean;
  onToken?: (text: string) => void;
  onProgress?: (event: RunEvent) => void;
}

/** The OpenAI request body a prompt becomes (what the job's prompt hash covers). */
export function promptBody(
  o: Pick<PromptOptions, "prompt" | "model" | "system" | "maxTokens" | "temperature" | "seed">,
): ChatCompletionBody {
  if (!o.prompt.trim()) throw new RenterUsageError("the prompt is empty");
  return {
    model: o.model,
    messages: [
      ...(o.system ? [{ role: "system" as const, content: o.system }] : []),
      { role: "user" as const, content: o.prompt },
    ],
    ...(o.maxTokens !== undefined ? { max_tokens: o.maxTokens } : {}),
    temperature: o.temperature ?? 0,
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
  };
}

/** Runs a prompt as one paid job: choose a host, post, stream, accept. */
export async function runPrompt(renter: Renter, o: PromptOptions): Promise<RunResult> {
  const run = renter.run(promptBody(o), {
    by: o.by,
    host: o.host,
    token: o.token,
    maxTokens: o.maxTokens,
    accept: o.accept,
  });
  for (;;) {
    const n = await run.next();
    if (n.done) return n.value;
    if (n.value.type === "token") o.onToken?.(n.value.text);
    else o.onProgress?.(n.value);
  }
}

/** A job: its state on chain, the host's completion claim, and the indexer's record (if indexed yet). */
export async function showJob(renter: Renter, id: bigint) {
  const [onChain, completion, indexed] = await Promise.all([
    renter.job(id),
    renter.completion(id),
    renter.discovery.job(id).catch(() => undefined),
  ]);
  return { onChain, completion: completion ?? null, indexed: indexed ?? null };
}

export async function disputeJob(renter: Renter, id: bigint, reason: string) {
  await renter.job(id); // a clear JobNotFoundError before any transaction
  return renter.dispute(id, reason);
}

export async function acceptJob(renter: Renter, id: bigint) {
  await renter.job(id);
  return renter.accept(id);
}

export function parseJobId(raw: string | undefined): bigint {
  if (!raw || !/^\d{1,78}$/.test(raw))
    throw new RenterUsageError(`expected a job id, got ${raw ?? "nothing"}`);
  return BigInt(raw);
}

/**
 * Runs a prompt on a session (the default): open a session with the chosen host (one
 * transaction), stream the answer, then hand the signed receipt to the host, which settles
 * the session on chain (paid for the answer, the rest refunded).
 */
export async function runSessionPrompt(
  renter: Renter,
  o: PromptOptions & { onSession?: (event: SessionEvent) => void },
): Promise<SessionAnswer & { closed: Awaited<ReturnType<Renter["sessions"]["close"]>> }> {
  const chat = renter.sessions.chat(promptBody(o), {
    host: o.host,
    token: o.token === undefined || o.token === "ETH" ? undefined : (o.token as `0x${string}`),
  });
  let answer: SessionAnswer | undefined;
  try {
    for (;;) {
      const n = await chat.next();
      if (n.done) {
        answer = n.value;
        break;
      }
      if (n.value.type === "token") o.onToken?.(n.value.text);
      else o.onSession?.(n.value);
    }
  } finally {
    // Whatever happened, nothing stays locked: every session this run opened is closed.
    if (!answer) await renter.sessions.closeAll();
  }
  const closed = await renter.sessions.close(answer.sessionId);
  return { ...answer, closed };
}

/** A session: its terms and state on chain. */
export async function showSession(renter: Renter, id: bigint) {
  const [terms, state] = await Promise.all([
    readSessionTerms(renter.chain, renter.addresses.SessionManager, id),
    readSessionState(renter.chain, renter.addresses.SessionManager, id),
  ]);
  return { id, terms, state };
}

/**
 * Ends one of the renter's sessions from the chain alone (its host gone, the gateway that
 * held it stopped): asks to close when it is open, settles when the host's window has passed.
 */
export async function closeSessionOnChain(renter: Renter, id: bigint) {
  const { terms, state } = await showSession(renter, id);
  if (terms.renter.toLowerCase() !== renter.address.toLowerCase())
    throw new RenterUsageError(
      `session ${id} belongs to ${terms.renter}, not to ${renter.address}`,
    );
  const functionName = state.status === "Open" ? "requestClose" : "settle";
  if (state.status === "Settled") throw new RenterUsageError(`session ${id} is already settled`);
  try {
    const tx = await renter.chain.send(`${functionName} ${id}`, {
      address: renter.addresses.SessionManager,
      abi: sessionManagerAbi,
      functionName,
      args: [terms, id],
    });
    return { id, action: functionName, tx: tx.transactionHash };
  } catch (e) {
    if (e instanceof ContractRevertError)
      throw new TransactionRefusedError(functionName, undefined, e.errorName ?? e.message, e);
    throw e;
  }
}

export function parseSessionId(raw: string | undefined): bigint {
  if (!raw || !/^\d{1,78}$/.test(raw))
    throw new RenterUsageError(`expected a session id, got ${raw ?? "nothing"}`);
  return BigInt(raw);
}
