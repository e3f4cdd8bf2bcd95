/**
 * The renter CLI's commands as functions: each takes a Renter and plain options and returns
 * plain data, so scripts and the end-to-end test call exactly what the CLI runs. Printing
 * (human text or --json) is the CLI's business; progress goes through `onProgress`.
 */
import type { ChatCompletionBody } from "../protocol/openai.ts";
import type { Renter, RunEvent, RunResult } from "./client.ts";
import type { HostListing } from "./discovery.ts";
import { RenterUsageError } from "./errors.ts";

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
