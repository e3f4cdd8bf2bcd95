/**
 * The node's one entry point for requests from any transport: it decides who may use the
 * node (a marketplace job with the renter's signature, an operator API key, or open access
 * when the operator turned it on), bounds the answer by what the job paid for, runs the
 * model behind the semantic cache, and counts everything in the metrics.
 */
import { timingSafeEqual } from "node:crypto";
import type { SessionAuthorization } from "../../protocol/sessions.ts";
import type {
  Capabilities,
  GenerationEvent,
  JobAuthorization,
  ServeRequest,
  Usage,
} from "../../protocol/wire.ts";
import {
  ContextLengthExceededError,
  InvalidRequestError,
  NodeError,
  UnauthorizedError,
} from "../errors.ts";
import type { InferenceService } from "../inference/service.ts";
import type { GenerateRequest } from "../inference/types.ts";
import type { NodeMetrics } from "../metrics.ts";
import type { RequestHandler, ServeOptions } from "./types.ts";

/** A job's right to be served once, from the job gate (node/chain/jobs.ts). */
export interface JobLease {
  /** The most completion tokens the job paid for. */
  maxTokens: number;
  /**
   * The answer was delivered in full: settle the job with it. `tokenIds` are the generated
   * token ids (for the output-count proof), when the generator knows them.
   */
  finish: (result: { text: string; usage: Usage; cached: boolean; tokenIds?: number[] }) => void;
  /** The answer failed part-way (the client went away, a timeout): the job is not served. */
  fail: (error: unknown) => void;
  /**
   * The renter's own request can never be served (its prompt does not fit the model's
   * context): the job is handed back on chain and the renter refunded now.
   */
  refuse: (error: ContextLengthExceededError) => void;
}

/** Checks a request's job authorization against the chain; throws JobRefusedError. */
export interface JobGate {
  open: (auth: JobAuthorization, request: ServeRequest) => Promise<JobLease>;
}

/** One answer of a session (node/chain/sessions.ts). */
export interface SessionLease {
  /** The most completion tokens the rest of the deposit pays for. */
  maxTokens: number;
  finish: (result: { text: string; usage: Usage; tokenIds?: number[] }) => void;
  fail: (error: unknown) => void;
}

/**
 * Checks a request's session and its receipt for the answers before it; throws
 * SessionRefusedError.
 */
export interface SessionGate {
  open: (auth: SessionAuthorization, request: ServeRequest) => Promise<SessionLease>;
}

export interface HandlerOptions {
  service: InferenceService;
  metrics?: NodeMetrics;
  /** Serves paid marketplace jobs; without it a request naming a job is refused. */
  jobs?: JobGate;
  /** Serves sessions; without it a request naming a session is refused. */
  sessions?: SessionGate;
  /** Operator keys that use the node without a job (compared in constant time). */
  apiKeys?: string[];
  /** Serve anyone without a job or key: for a private or development node only. */
  open?: boolean;
  capabilities: () => Capabilities;
}

function keyMatches(keys: string[], presented: string | undefined): boolean {
  if (!presented) return false;
  const p = Buffer.from(presented);
  return keys.some((k) => {
    const b = Buffer.from(k);
    return b.length === p.length && timingSafeEqual(b, p);
  });
}

export function createRequestHandler(options: HandlerOptions): RequestHandler {
  const { service, metrics } = options;

  async function* serve(
    request: ServeRequest,
    opts: ServeOptions,
  ): AsyncGenerator<GenerationEvent, void, undefined> {
    const arrived = performance.now();
    // Label values stay bounded: a model the node does not serve is counted as "unknown".
    const model = service.models().includes(request.model) ? request.model : "unknown";
    const labels = { transport: opts.transport, model };
    let outcome = "ok";
    let lease: JobLease | SessionLease | undefined;
    let failure: unknown;
    try {
      const generator = service.generator(request.model);
      if ((request.messages === undefined) === (request.prompt === undefined))
        throw new InvalidRequestError("a request needs exactly one of messages and prompt");
      if (request.job) {
        if (!options.jobs) throw new UnauthorizedError("this node does not serve marketplace jobs");
        lease = await options.jobs.open(request.job, request);
      } else if (request.session) {
        if (!options.sessions) throw new UnauthorizedError("this node does not serve sessions");
        lease = await options.sessions.open(request.session, request);
      } else if (!options.open && !keyMatches(options.apiKeys ?? [], opts.apiKey)) {
        throw new UnauthorizedError(
          "a marketplace job authorization or an operator API key is required",
        );
      }
      const params = { ...request.params };
      if (lease) params.maxTokens = Math.min(params.maxTokens ?? lease.maxTokens, lease.maxTokens);
      const generate: GenerateRequest = {
        messages: request.messages ?? [],
        prompt: request.prompt,
        params,
        signal: opts.signal,
        cache: request.cache,
      };
      let first = true;
      for await (const event of generator.generate(generate)) {
        if (first && event.type === "token") {
          metrics?.firstToken.observe(labels, (performance.now() - arrived) / 1000);
          first = false;
        }
        if (event.type === "done") {
          metrics?.tokens.inc({ model, kind: "prompt" }, event.usage.promptTokens);
          metrics?.tokens.inc(
            { model, kind: event.cached ? "cached_completion" : "completion" },
            event.usage.completionTokens,
          );
          const { tokenIds, ...wire } = event;
          lease?.finish({ text: event.text, usage: event.usage, cached: event.cached, tokenIds });
          lease = undefined;
          // The token ids stay on the node: the transports send the wire's `done` as it was.
          yield wire;
          continue;
        }
        yield event;
      }
    } catch (e) {
      failure = e;
      outcome = e instanceof NodeError ? e.code : "internal";
      if (lease && "refuse" in lease && e instanceof ContextLengthExceededError) {
        lease.refuse(e);
        lease = undefined;
      }
      throw e;
    } finally {
      // A consumer that stopped pulling before `done` also ends up here.
      if (lease) {
        lease.fail(failure ?? new Error("the answer was not delivered in full"));
        if (outcome === "ok") outcome = "cancelled";
      }
      metrics?.requests.inc({ ...labels, outcome });
      metrics?.duration.observe(labels, (performance.now() - arrived) / 1000);
    }
  }

  function check(request: ServeRequest) {
    const engine = service.engine(request.model);
    const promptTokens = engine.countPromptTokens(request.messages ?? [], request.prompt);
    const contextLength = engine.contextSize();
    if (promptTokens >= contextLength)
      throw new ContextLengthExceededError(promptTokens, contextLength);
    return { promptTokens, contextLength, maxTokens: contextLength - promptTokens };
  }

  return { serve, check, capabilities: options.capabilities };
}
