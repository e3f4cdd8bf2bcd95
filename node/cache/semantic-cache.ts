/**
 * The semantic cache: answers already generated, in LanceDB on local disk, one table per
 * model. A lookup first tries the exact prompt (a sha256 key, indexed), then the nearest
 * stored prompt by cosine distance between embeddings, accepted only when its `_distance`
 * is within `maxDistance` (checked here on the exact distance, never trusted to an
 * approximate index filter). Entries are scoped by the sampling parameters, so an answer
 * is never served to a request with different ones, and expire after `ttlMs`; the table
 * is trimmed to `maxEntries` (oldest first) and gets a vector index once it is large.
 */
import { createHash } from "node:crypto";
import path from "node:path";
import * as lancedb from "@lancedb/lancedb";
import { Field, FixedSizeList, Float32, Float64, Int32, Schema, Utf8 } from "apache-arrow";
import { type Logger, silentLogger } from "../../protocol/logger.ts";
import type { ChatMessage, FinishReason, SamplingParams, Usage } from "../../protocol/wire.ts";
import { CACHE_DEFAULTS } from "../constants.ts";
import { StoppedError } from "../errors.ts";
import type { Embedder } from "../inference/embedder.ts";

export interface CachedAnswer {
  chunks: string[];
  text: string;
  finishReason: FinishReason;
  usage: Usage;
  /**
   * The generated token ids (`usage.completionTokens` of them): a cached answer's output-count
   * proof needs them (node/chain/proofs.ts). Absent in rows written before they were kept.
   */
  tokenIds?: number[];
}

export interface CacheHit extends CachedAnswer {
  exact: boolean;
  distance: number;
}

/** Which answers may be shared: the same model file and the same sampling parameters. */
export interface CacheScope {
  /** The model id; with its sha256, so a changed file never sees the old answers. */
  modelId: string;
  modelSha256: string;
  params: SamplingParams;
}

export interface SemanticCacheOptions {
  /** Absolute path of the LanceDB directory (a relative "db..." path means LanceDB Cloud). */
  dir: string;
  embedder: Embedder;
  maxDistance?: number;
  ttlMs?: number;
  maxEntries?: number;
  /** Rows at which the vector and key indexes are built. */
  indexAt?: number;
  /** The clock, in ms (tests move it to check expiry). */
  now?: () => number;
  logger?: Logger;
}

export interface SemanticCache {
  start: () => Promise<void>;
  lookup: (scope: CacheScope, messages: ChatMessage[]) => Promise<CacheHit | undefined>;
  /** The semantic step alone: the nearest stored answer to `vector` within the distance. */
  nearest: (scope: CacheScope, vector: Float32Array) => Promise<CacheHit | undefined>;
  put: (scope: CacheScope, messages: ChatMessage[], answer: CachedAnswer) => Promise<void>;
  /** Adds many answers in one write (warming the cache); `vector` skips embedding. */
  importEntries: (
    scope: CacheScope,
    entries: { messages: ChatMessage[]; answer: CachedAnswer; vector?: Float32Array }[],
  ) => Promise<void>;
  /** Rows in the scope's model table (expired ones included until trimmed), and whether it is indexed. */
  stats: (
    scope: Pick<CacheScope, "modelId" | "modelSha256">,
  ) => Promise<{ rows: number; indexed: boolean }>;
  /** Drops expired rows, trims to the bound and (re)indexes; put() calls it when needed. */
  maintain: (scope: Pick<CacheScope, "modelId" | "modelSha256">) => Promise<void>;
  stop: () => Promise<void>;
}

/** Rows written between compactions (which also fold new rows into the indexes). */
const OPTIMIZE_EVERY = 1_000;

const hasVectorIndex = async (table: lancedb.Table) =>
  (await table.listIndices()).some((i) => i.columns.includes("vector"));

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/** The text that is embedded and hashed: the whole conversation, roles included. */
export function conversationText(messages: ChatMessage[]): string {
  return messages.map((m) => `${m.role}: ${m.content}`).join("\n");
}

export function paramsKey(p: SamplingParams): string {
  return sha256(
    JSON.stringify([p.temperature, p.topP, p.topK, p.maxTokens, p.stop, p.seed ?? null]),
  );
}

function tableName(scope: Pick<CacheScope, "modelId" | "modelSha256">): string {
  const safe = scope.modelId.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 48);
  return `answers_${safe}_${scope.modelSha256.slice(0, 16)}`;
}

interface TableState {
  table: lancedb.Table;
  rows: number;
  indexed: boolean;
  /** Rows when the vector index was last trained; it is retrained when the table doubles. */
  indexedRows: number;
  /** Rows written since the last compaction/index update (searched exhaustively until then). */
  rowsSinceOptimize: number;
  /** put() and maintain() of one table run one at a time. */
  chain: Promise<unknown>;
}

export function createSemanticCache(options: SemanticCacheOptions): SemanticCache {
  if (!path.isAbsolute(options.dir))
    throw new Error(`the semantic cache needs an absolute directory, got ${options.dir}`);
  const maxDistance = options.maxDistance ?? CACHE_DEFAULTS.maxDistance;
  const ttlMs = options.ttlMs ?? CACHE_DEFAULTS.ttlMs;
  const maxEntries = options.maxEntries ?? CACHE_DEFAULTS.maxEntries;
  const indexAt = options.indexAt ?? CACHE_DEFAULTS.indexAt;
  const now = options.now ?? Date.now;
  const log = options.logger ?? silentLogger;
  const embedder = options.embedder;
  let db: lancedb.Connection | undefined;
  const tables = new Map<string, Promise<TableState>>();

  const schema = () =>
    new Schema([
      new Field("key", new Utf8(), false),
      new Field("params_key", new Utf8(), false),
      new Field(
        "vector",
        new FixedSizeList(embedder.dimensions(), new Field("item", new Float32(), true)),
        true,
      ),
      new Field("chunks", new Utf8(), false),
      new Field("finish_reason", new Utf8(), false),
      new Field("completion_tokens", new Int32(), false),
      new Field("prompt_tokens", new Int32(), false),
      new Field("created_at", new Float64(), false),
      new Field("token_ids", new Utf8(), true),
    ]);

  function open(scope: Pick<CacheScope, "modelId" | "modelSha256">): Promise<TableState> {
    const name = tableName(scope);
    let state = tables.get(name);
    if (!state) {
      state = (async () => {
        if (!db) throw new StoppedError("semantic cache is not running");
        const table = (await db.tableNames()).includes(name)
          ? await db.openTable(name)
          : await db.createEmptyTable(name, schema(), { existOk: true });
        // Tables written before the token ids were kept get the column (empty in old rows).
        if (!(await table.schema()).fields.some((f) => f.name === "token_ids"))
          await table.addColumns([{ name: "token_ids", valueSql: "CAST(NULL AS STRING)" }]);
        const rows = await table.countRows();
        return {
          table,
          rows,
          indexed: await hasVectorIndex(table),
          indexedRows: rows,
          rowsSinceOptimize: 0,
          chain: Promise.resolve(),
        };
      })();
      state.catch(() => tables.delete(name));
      tables.set(name, state);
    }
    return state;
  }

  const serial = <T>(s: TableState, fn: () => Promise<T>): Promise<T> => {
    const next = s.chain.then(fn);
    s.chain = next.catch(() => undefined);
    return next;
  };

  const keyOf = (scope: CacheScope, pkey: string, text: string) =>
    sha256(`${scope.modelSha256}\n${pkey}\n${text}`);

  function toAnswer(row: Record<string, unknown>): CachedAnswer {
    const chunks = JSON.parse(String(row.chunks)) as string[];
    const tokenIds =
      typeof row.token_ids === "string" ? (JSON.parse(row.token_ids) as number[]) : undefined;
    return {
      chunks,
      text: chunks.join(""),
      finishReason: row.finish_reason as FinishReason,
      usage: {
        promptTokens: Number(row.prompt_tokens),
        completionTokens: Number(row.completion_tokens),
      },
      tokenIds: tokenIds?.length === Number(row.completion_tokens) ? tokenIds : undefined,
    };
  }

  async function maintainNow(s: TableState): Promise<void> {
    const cutoff = now() - ttlMs;
    let deleted = 0;
    if ((await s.table.countRows(`created_at < ${cutoff}`)) > 0) {
      await s.table.delete(`created_at < ${cutoff}`);
      deleted++;
    }
    s.rows = await s.table.countRows();
    if (s.rows > maxEntries) {
      // Trim to 90% of the bound, oldest first, so trimming is not needed on every put.
      const keep = Math.floor(maxEntries * 0.9);
      const times = (await s.table.query().select(["created_at"]).toArray())
        .map((r) => Number(r.created_at))
        .sort((a, b) => b - a);
      const oldestKept = times[keep - 1] ?? 0;
      await s.table.delete(`created_at < ${oldestKept}`);
      s.rows = await s.table.countRows();
      deleted++;
    }
    if ((!s.indexed && s.rows >= indexAt) || (s.indexed && s.rows >= 2 * s.indexedRows)) {
      // Trained on the rows present now; rows added later join the nearest existing
      // partitions on compaction, so the index is retrained each time the table doubles.
      const started = performance.now();
      await s.table.createIndex("vector", {
        config: lancedb.Index.ivfFlat({
          distanceType: "cosine",
          numPartitions: Math.max(1, Math.round(Math.sqrt(s.rows))),
        }),
      });
      // The scalar indexes serve the exact-key lookup and the vector search's prefilter.
      await s.table.createIndex("key", { config: lancedb.Index.btree() });
      await s.table.createIndex("params_key", { config: lancedb.Index.bitmap() });
      await s.table.createIndex("created_at", { config: lancedb.Index.btree() });
      s.indexed = true;
      s.indexedRows = s.rows;
      s.rowsSinceOptimize = 0;
      log.info({ rows: s.rows, ms: Math.round(performance.now() - started) }, "cache indexed");
    } else if (s.rowsSinceOptimize >= OPTIMIZE_EVERY || (s.indexed && deleted > 0)) {
      // Compacts the small fragments that single-row adds leave, and folds new rows into
      // the indexes (until then they are searched exhaustively).
      await s.table.optimize();
      s.rowsSinceOptimize = 0;
    }
  }

  const cache: SemanticCache = {
    async start() {
      db = await lancedb.connect(options.dir);
    },

    async lookup(scope, messages) {
      const s = await open(scope);
      if (s.rows === 0) return undefined;
      const text = conversationText(messages);
      const pkey = paramsKey(scope.params);
      const fresh = `created_at >= ${now() - ttlMs}`;
      const exact = await s.table
        .query()
        .where(`key = '${keyOf(scope, pkey, text)}' AND ${fresh}`)
        .limit(1)
        .toArray();
      if (exact[0]) return { ...toAnswer(exact[0]), exact: true, distance: 0 };
      if (!embedder.fits(text)) return undefined;
      return cache.nearest(scope, await embedder.embed(text));
    },

    async nearest(scope, vector) {
      const s = await open(scope);
      if (s.rows === 0) return undefined;
      const near = await s.table
        .vectorSearch(vector)
        .distanceType("cosine")
        .where(`params_key = '${paramsKey(scope.params)}' AND created_at >= ${now() - ttlMs}`)
        .select([
          "chunks",
          "finish_reason",
          "prompt_tokens",
          "completion_tokens",
          "token_ids",
          "_distance",
        ])
        .limit(1)
        .toArray();
      const best = near[0];
      if (!best || !(Number(best._distance) <= maxDistance)) return undefined;
      return { ...toAnswer(best), exact: false, distance: Number(best._distance) };
    },

    async put(scope, messages, answer) {
      await cache.importEntries(scope, [{ messages, answer }]);
    },

    async importEntries(scope, entries) {
      const s = await open(scope);
      const pkey = paramsKey(scope.params);
      const rows: Record<string, unknown>[] = [];
      for (const { messages, answer, vector } of entries) {
        const text = conversationText(messages);
        // An over-long conversation is stored without a vector: found by its exact key only.
        const v = vector ?? (embedder.fits(text) ? await embedder.embed(text) : null);
        rows.push({
          key: keyOf(scope, pkey, text),
          params_key: pkey,
          vector: v ? Array.from(v) : null,
          chunks: JSON.stringify(answer.chunks),
          finish_reason: answer.finishReason,
          completion_tokens: answer.usage.completionTokens,
          prompt_tokens: answer.usage.promptTokens,
          created_at: now(),
          token_ids: answer.tokenIds ? JSON.stringify(answer.tokenIds) : null,
        });
      }
      if (rows.length === 0) return;
      await serial(s, async () => {
        await s.table.add(rows);
        s.rows += rows.length;
        s.rowsSinceOptimize += rows.length;
        if (
          s.rows > maxEntries ||
          (!s.indexed && s.rows >= indexAt) ||
          (s.indexed && s.rows >= 2 * s.indexedRows) ||
          s.rowsSinceOptimize >= OPTIMIZE_EVERY
        )
          await maintainNow(s);
      });
    },

    async stats(scope) {
      const { table } = await open(scope);
      return { rows: await table.countRows(), indexed: await hasVectorIndex(table) };
    },

    async maintain(scope) {
      const s = await open(scope);
      await serial(s, () => maintainNow(s));
    },

    async stop() {
      for (const state of tables.values()) {
        const s = await state.catch(() => undefined);
        if (!s) continue;
        await s.chain;
        s.table.close();
      }
      tables.clear();
      db?.close();
      db = undefined;
    },
  };
  return cache;
}
