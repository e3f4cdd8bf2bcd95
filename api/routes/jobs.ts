/** GET /jobs/:id: a job with its status history and escrow movements. */

import { db } from "ponder:api";
import { job, jobStatusChange, payment } from "ponder:schema";
import { Hono } from "hono";
import { asc, eq } from "ponder";
import { NotFoundError } from "../errors.ts";
import { jobIdParam, parse } from "../params.ts";
import { json } from "../serialize.ts";

export const jobs = new Hono();

jobs.get("/:id", async (c) => {
  const id = parse(jobIdParam, c.req.param("id"));
  const row = await db.query.job.findFirst({ where: eq(job.id, id) });
  if (!row) throw new NotFoundError(`job ${id}`);
  const history = await db
    .select()
    .from(jobStatusChange)
    .where(eq(jobStatusChange.jobId, id))
    .orderBy(asc(jobStatusChange.id));
  const payments = await db
    .select()
    .from(payment)
    .where(eq(payment.jobId, id))
    .orderBy(asc(payment.id));
  return json(c, { ...row, history, payments });
});
