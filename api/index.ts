/**
 * The Fabstir API, served by Ponder (`ponder dev|start --root indexer`): GraphQL with
 * GraphiQL at /graphql, SQL over HTTP at /sql/* (for @ponder/client), REST discovery
 * (/hosts, /models, /jobs/:id, /stats/daily) and its OpenAPI document at /openapi.json.
 * It reads only what the indexer wrote.
 */

import { db } from "ponder:api";
import schema from "ponder:schema";
import { Hono } from "hono";
import { client, graphql } from "ponder";
import { errorResponse, NotFoundError } from "./errors.ts";
import { openapi } from "./openapi.ts";
import { hosts } from "./routes/hosts.ts";
import { jobs } from "./routes/jobs.ts";
import { models } from "./routes/models.ts";
import { stats } from "./routes/stats.ts";

const app = new Hono();

app.use("/graphql", graphql({ db, schema }));
app.use("/sql/*", client({ db, schema }));
app.route("/hosts", hosts);
app.route("/models", models);
app.route("/jobs", jobs);
app.route("/stats", stats);
app.get("/openapi.json", (c) => c.json(openapi));
app.notFound((c) => errorResponse(new NotFoundError(`route ${c.req.method} ${c.req.path}`), c));
app.onError(errorResponse);

export default app;
