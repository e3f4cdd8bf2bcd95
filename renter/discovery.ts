/**
 * A client of the indexer's REST discovery API (api/): hosts for a model sorted by price or
 * reputation, one host's profile, models, and indexed jobs. Amounts arrive as decimal
 * strings (the API serializes bigints that way) and are kept as strings here.
 */
import { zeroAddress } from "viem";
import { z } from "zod";
import { DiscoveryError } from "./errors.ts";

const decimal = z.string().regex(/^\d+$/, "a decimal string");
const address = z.custom<`0x${string}`>(
  (v) => typeof v === "string" && /^0x[0-9a-fA-F]{40}$/.test(v),
  "an address",
);

/**
 * A host as `GET /hosts` lists it, checked at the edge: the renter pays whoever this names,
 * so a malformed listing is a DiscoveryError, never a half-read host. Fields the API adds
 * later pass through untouched.
 */
export const hostListingSchema = z.looseObject({
  address,
  score: z.number(),
  stake: decimal,
  region: z.string(),
  gpuModel: z.string(),
  vramMiB: z.number().int(),
  gpuCount: z.number().int(),
  /** null for a host that registered no HTTP endpoint (reachable over libp2p only). */
  httpUrl: z.string().nullable(),
  peerId: z.string().nullable(),
  multiaddrs: z.array(z.string()).nullable(),
  registeredAt: decimal,
  jobsCompleted: z.number().int(),
  /** Wei (or token base units) per generated token for the queried model and token; null without a model. */
  pricePerToken: decimal.nullable(),
  /** The queried model's context window (tokens) as the host advertises it; null if it does not. */
  contextLength: z.number().int().positive().nullable(),
});
export type HostListing = z.infer<typeof hostListingSchema>;

const hostPage = z.object({ hosts: z.array(hostListingSchema) });

export interface HostQuery {
  model?: string;
  /** "ETH" or an ERC-20 address; default ETH. */
  token?: string;
  sort?: "price" | "score" | "recent";
  maxPrice?: bigint;
  minScore?: number;
  limit?: number;
}

export function tokenAddress(token: string | undefined): `0x${string}` {
  if (token === undefined || token.toUpperCase() === "ETH") return zeroAddress;
  return token.toLowerCase() as `0x${string}`;
}

export interface Discovery {
  readonly url: string;
  hosts: (q: HostQuery) => Promise<HostListing[]>;
  host: (address: string) => Promise<Record<string, unknown> | undefined>;
  models: () => Promise<{ id: string; name: string; hostCount: number; prices: unknown[] }[]>;
  job: (id: bigint) => Promise<Record<string, unknown> | undefined>;
}

export function createDiscoveryClient(apiUrl: string, timeoutMs = 10_000): Discovery {
  const base = apiUrl.replace(/\/+$/, "");
  async function get<T>(pathname: string): Promise<T | undefined> {
    let res: Response;
    try {
      res = await fetch(`${base}${pathname}`, {
        signal: AbortSignal.timeout(timeoutMs),
        headers: { accept: "application/json" },
      });
    } catch (e) {
      throw new DiscoveryError(`the discovery API at ${base} is unreachable: ${String(e)}`, e);
    }
    if (res.status === 404) return undefined;
    const body = (await res.json().catch(() => undefined)) as
      | { error?: { message?: string } }
      | undefined;
    if (!res.ok)
      throw new DiscoveryError(
        `GET ${pathname}: ${res.status} ${body?.error?.message ?? res.statusText}`,
      );
    return body as T;
  }
  return {
    url: base,
    async hosts(q) {
      const params = new URLSearchParams();
      if (q.model) params.set("model", q.model);
      params.set("token", tokenAddress(q.token));
      params.set("sort", q.sort ?? (q.model ? "price" : "score"));
      if (q.maxPrice !== undefined) params.set("maxPrice", q.maxPrice.toString());
      if (q.minScore !== undefined) params.set("minScore", String(q.minScore));
      params.set("limit", String(q.limit ?? 20));
      const raw = await get<unknown>(`/hosts?${params}`);
      if (raw === undefined) return [];
      const page = hostPage.safeParse(raw);
      if (!page.success)
        throw new DiscoveryError(
          `GET /hosts: a malformed answer (${page.error.issues[0]?.path.join(".")}: ${page.error.issues[0]?.message})`,
        );
      return page.data.hosts;
    },
    host: (address) => get(`/hosts/${address}`),
    async models() {
      const page = await get<{
        models: { id: string; name: string; hostCount: number; prices: unknown[] }[];
      }>("/models");
      return page?.models ?? [];
    },
    job: (id) => get(`/jobs/${id}`),
  };
}
