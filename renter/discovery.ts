/**
 * A client of the indexer's REST discovery API (api/): hosts for a model sorted by price or
 * reputation, one host's profile, models, and indexed jobs. Amounts arrive as decimal
 * strings (the API serializes bigints that way) and are kept as strings here.
 */
import { zeroAddress } from "viem";
import { DiscoveryError } from "./errors.ts";

export interface HostListing {
  address: `0x${string}`;
  score: number;
  stake: string;
  region: string;
  gpuModel: string;
  vramMiB: number;
  gpuCount: number;
  httpUrl: string;
  peerId: string;
  multiaddrs: string[];
  registeredAt: string;
  jobsCompleted: number;
  /** Wei (or token base units) per generated token for the queried model and token; null without a model. */
  pricePerToken: string | null;
  /** The queried model's context window (tokens) as the host advertises it; null if it does not. */
  contextLength: number | null;
}

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
      const page = await get<{ hosts: HostListing[] }>(`/hosts?${params}`);
      return page?.hosts ?? [];
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
