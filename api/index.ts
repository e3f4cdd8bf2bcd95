/**
 * The Fabstir API, served by Ponder (`ponder dev|start --root indexer`): GraphQL with
 * GraphiQL at /graphql, SQL over HTTP at /sql/* (for @ponder/client), REST discovery
 * (/hosts, /models, /jobs/:id, /disputes, /challenges, /proofs, /sessions, /stats/daily),
 * governance and tokenomics (/governance/proposals, /tokenomics/pool|buybacks|tiers) and its
 * OpenAPI document at /openapi.json.
 * It reads only what the indexer wrote.
 */

import { db } from "ponder:api";
import schema from "ponder:schema";
import { Hono } from "hono";
import { client, graphql } from "ponder";
import { responseCache } from "./cache.ts";
import { errorResponse, NotFoundError } from "./errors.ts";
import { openapi } from "./openapi.ts";
import { challenges } from "./routes/challenges.ts";
import { disputes } from "./routes/disputes.ts";
import { governance } from "./routes/governance.ts";
import { hosts } from "./routes/hosts.ts";
import { jobs } from "./routes/jobs.ts";
import { models } from "./routes/models.ts";
import { proofs } from "./routes/proofs.ts";
import { sessions } from "./routes/sessions.ts";
import { stats } from "./routes/stats.ts";
import { tokenomics } from "./routes/tokenomics.ts";

const app = new Hono();

// Discovery answers are cached briefly (FABSTIR_API_CACHE_MS, default 500 ms, 0 turns it off);
// jobs, disputes, challenges, proofs, sessions and stats are always read fresh.
const discoveryCache = responseCache({
  ttlMs: Number(process.env.FABSTIR_API_CACHE_MS ?? 500),
  maxEntries: 1_000,
});
// "/hosts/*" also matches "/hosts"; registering both would run the cache twice per request.
app.use("/hosts/*", discoveryCache);
app.use("/models", discoveryCache);

app.use("/graphql", graphql({ db, schema }));
app.use("/sql/*", client({ db, schema }));
app.route("/hosts", hosts);
app.route("/models", models);
app.route("/jobs", jobs);
app.route("/disputes", disputes);
app.route("/challenges", challenges);
app.route("/proofs", proofs);
app.route("/sessions", sessions);
app.route("/stats", stats);
app.route("/governance", governance);
app.route("/tokenomics", tokenomics);
app.get("/openapi.json", (c) => c.json(openapi));
app.notFound((c) => errorResponse(new NotFoundError(`route ${c.req.method} ${c.req.path}`), c));
app.onError(errorResponse);

export default app;
