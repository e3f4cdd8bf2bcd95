/**
 * The discovery client checks what the API answers before the renter pays anyone it names:
 * a real HTTP server on 127.0.0.1 plays the API (a local stand-in for the indexer's, which
 * test/e2e drives for real) and answers good and malformed host lists.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, it } from "vitest";
import { createDiscoveryClient } from "./discovery.ts";
import { DiscoveryError } from "./errors.ts";

const good = {
  address: "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
  score: 5000,
  stake: "2000000000000000000000",
  region: "local",
  gpuModel: "CPU",
  vramMiB: 0,
  gpuCount: 0,
  httpUrl: "http://127.0.0.1:8081",
  peerId: null,
  multiaddrs: null,
  registeredAt: "1764547200",
  jobsCompleted: 3,
  pricePerToken: "1000000000",
  contextLength: 1024,
  newerField: "kept",
};

describe("discovery client", () => {
  let server: Server;
  let url: string;
  let answer: unknown;

  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(answer));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("reads a host list, keeping fields it does not know", async () => {
    answer = { hosts: [good], nextCursor: null };
    const [h] = await createDiscoveryClient(url).hosts({ model: "m" });
    assert.equal(h?.address, good.address);
    assert.equal(h?.contextLength, 1024);
    assert.equal(h?.httpUrl, good.httpUrl);
    assert.equal((h as Record<string, unknown> | undefined)?.newerField, "kept");
  });

  it("refuses a malformed listing with DiscoveryError naming the field", async () => {
    for (const bad of [
      { ...good, address: "0x1234" },
      { ...good, pricePerToken: -1 },
      { ...good, contextLength: "1024" },
      { ...good, httpUrl: undefined },
    ]) {
      answer = { hosts: [bad] };
      await assert.rejects(createDiscoveryClient(url).hosts({ model: "m" }), DiscoveryError);
    }
    answer = { nothing: true };
    await assert.rejects(createDiscoveryClient(url).hosts({ model: "m" }), DiscoveryError);
  });
});
