/** GET /models: every model with its host count and price range per token among eligible hosts. */

import { db } from "ponder:api";
import { host, hostOffer, model, registryConfig } from "ponder:schema";
import { Hono } from "hono";
import { asc, count, eq, max, min } from "ponder";
import { eligibleHost } from "../eligibility.ts";
import { json } from "../serialize.ts";

export const models = new Hono();

models.get("/", async (c) => {
  const all = await db.select().from(model).orderBy(asc(model.name));
  const ranges = await db
    .select({
      modelId: hostOffer.modelId,
      token: hostOffer.token,
      hosts: count(),
      minPrice: min(hostOffer.pricePerToken),
      maxPrice: max(hostOffer.pricePerToken),
    })
    .from(hostOffer)
    .innerJoin(host, eq(host.address, hostOffer.host))
    .innerJoin(registryConfig, eligibleHost)
    .groupBy(hostOffer.modelId, hostOffer.token);
  return json(c, {
    models: all.map((m) => ({
      ...m,
      prices: ranges.filter((r) => r.modelId === m.id).map(({ modelId: _m, ...r }) => r),
    })),
  });
});
