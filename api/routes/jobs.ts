/**
 * GET /jobs/:id: a job with its status history, its escrow movements, its dispute (with the
 * bond's movements), its rating, the offences recorded for it, its accepted proofs and the
 * challenges of its work. A dispute bond is a lock of its own in the escrow: its movements are
 * under `dispute.bondPayments`, never the job's.
 */

import { db } from "ponder:api";
import {
  challenge,
  dispute,
  job,
  jobStatusChange,
  offence,
  payment,
  proof,
  rating,
} from "ponder:schema";
import { Hono } from "hono";
import { and, asc, eq } from "ponder";
import { NotFoundError } from "../errors.ts";
import { jobIdParam, parse } from "../params.ts";
import { json } from "../serialize.ts";

export const jobs = new Hono();

const paymentsOf = (id: bigint, source: "job" | "bond") =>
  db
    .select()
    .from(payment)
    .where(and(eq(payment.source, source), eq(payment.jobId, id)))
    .orderBy(asc(payment.id));

jobs.get("/:id", async (c) => {
  const id = parse(jobIdParam, c.req.param("id"));
  const [
    [row],
    history,
    payments,
    [disputeRow],
    bondPayments,
    ratings,
    offences,
    proofs,
    challenges,
  ] = await Promise.all([
    db.select().from(job).where(eq(job.id, id)),
    db
      .select()
      .from(jobStatusChange)
      .where(eq(jobStatusChange.jobId, id))
      .orderBy(asc(jobStatusChange.id)),
    paymentsOf(id, "job"),
    db.select().from(dispute).where(eq(dispute.jobId, id)),
    paymentsOf(id, "bond"),
    db.select().from(rating).where(eq(rating.jobId, id)),
    db.select().from(offence).where(eq(offence.jobId, id)).orderBy(asc(offence.id)),
    db.select().from(proof).where(eq(proof.jobId, id)).orderBy(asc(proof.id)),
    db.select().from(challenge).where(eq(challenge.jobId, id)).orderBy(asc(challenge.id)),
  ]);
  if (!row) throw new NotFoundError(`job ${id}`);
  return json(c, {
    ...row,
    history,
    payments,
    dispute: disputeRow ? { ...disputeRow, bondPayments } : null,
    rating: ratings[0] ?? null,
    offences,
    proofs,
    challenges,
  });
});
