/**
 * Discovery on three real libp2p nodes on 127.0.0.1: A is the bootstrap peer of B and C.
 * A serves model Y, B serves model X, C serves nothing and finds hosts through the DHT;
 * capability records are signed, validated and the newest one wins.
 */
import assert from "node:assert/strict";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import type { Multiaddr } from "@multiformats/multiaddr";
import { afterAll, beforeAll, describe, it } from "vitest";
import {
  chainId,
  localNode,
  scriptedHandler,
  testCapabilities,
  waitFor,
} from "../../fixtures/p2p.ts";
import type { Capabilities } from "../../protocol/wire.ts";
import { createDiscovery, type Discovery } from "./discovery.ts";
import { queryCapabilities, startInferenceServer } from "./inference.ts";
import type { P2PNode } from "./node.ts";
import {
  CAPABILITY_RECORD_MAX_AGE_MS,
  capabilityRecordKey,
  encodeCapabilityRecord,
  modelCid,
  selectFabstirRecord,
  validateFabstirRecord,
} from "./records.ts";

const X = chainId("ab");
const Y = chainId("cd");

describe("p2p discovery", () => {
  let a: P2PNode;
  let b: P2PNode;
  let c: P2PNode;
  let discoA: Discovery;
  let discoB: Discovery;
  let discoC: Discovery;
  let capsB: Capabilities;

  beforeAll(async () => {
    a = await localNode();
    const bootstrap = a.multiaddrs().map(String);
    [b, c] = await Promise.all([localNode({ bootstrap }), localNode({ bootstrap })]);
    capsB = testCapabilities([{ id: "model-x", chainModelId: X }], {
      running: 1,
      queued: 0,
      slots: 4,
    });
    await startInferenceServer(b, { ...scriptedHandler(1, 0).handler, capabilities: () => capsB });
    discoA = createDiscovery(a, {
      capabilities: () => testCapabilities([{ id: "model-y", chainModelId: Y }]),
    });
    discoB = createDiscovery(b, { capabilities: () => capsB });
    discoC = createDiscovery(c);
  });
  afterAll(async () => {
    await Promise.all([a, b, c].map((n) => n?.stop()));
  });

  it("joins B and C through the bootstrap peer A: every node has the other two in its DHT", async () => {
    await waitFor(
      () => a.dhtPeers() >= 2 && b.dhtPeers() >= 2 && c.dhtPeers() >= 2,
      "three DHT routing tables with two peers each",
    );
    // B and C were only given A's address: they met through the DHT.
    await waitFor(() => b.libp2p.getConnections(c.peerId).length > 0, "a B-C connection");
  });

  it("a node that serves nothing finds exactly the host of a model", async () => {
    await Promise.all([discoA.start(), discoB.start()]);

    const hostsX = await discoC.findHosts(X, { timeoutMs: 5_000 });
    assert.deepEqual(
      hostsX.map((h) => h.peerId.toString()),
      [b.peerId.toString()],
    );
    // Its dialable address came with it (the /tcp/<port> of B's listener).
    const tcp = (m: { getComponents: () => { name: string; value?: string }[] }) =>
      m.getComponents().find((x) => x.name === "tcp")?.value;
    const portB = tcp(b.multiaddrs()[0] as Multiaddr);
    assert.ok(hostsX[0]?.multiaddrs.some((m) => tcp(m) === portB));

    const hostsY = await discoC.findHosts(Y.toUpperCase().replace("0X", "0x"));
    assert.deepEqual(
      hostsY.map((h) => h.peerId.toString()),
      [a.peerId.toString()],
    );
    assert.deepEqual(await discoC.findHosts(chainId("ef"), { timeoutMs: 3_000 }), []);
    // A host looking up its own model does not list itself unless asked to.
    assert.deepEqual(await discoB.findHosts(X), []);
    const withSelf = await discoB.findHosts(X, { includeSelf: true });
    assert.deepEqual(
      withSelf.map((h) => h.peerId.toString()),
      [b.peerId.toString()],
    );
  });

  it("reads a host's prices and load from its DHT record and from the capabilities protocol", async () => {
    const record = await discoC.capabilitiesOf(b.peerId);
    assert.ok(record, "B's capability record is in the DHT");
    assert.equal(record.peer, b.peerId.toString());
    assert.deepEqual(record.capabilities, capsB);
    assert.equal(record.capabilities.models[0]?.prices[0]?.pricePerToken, "2000");
    assert.deepEqual(record.capabilities.load, { running: 1, queued: 0, slots: 4 });

    assert.deepEqual(await queryCapabilities(c, b.peerId), capsB);

    // The load changes; the republished record is the one readers get.
    capsB = { ...capsB, load: { running: 3, queued: 2, slots: 4 } };
    await discoB.publish();
    const fresh = await discoC.capabilitiesOf(b.peerId.toString());
    assert.deepEqual(fresh?.capabilities.load, { running: 3, queued: 2, slots: 4 });
    assert.ok((fresh?.issuedAt ?? 0) > record.issuedAt);
    assert.equal(await discoC.capabilitiesOf(c.peerId, { timeoutMs: 2_000 }), undefined);
  });

  it("validates capability records: signed by the named peer, not expired; selects the newest", async () => {
    const owner = await generateKeyPair("Ed25519");
    const other = await generateKeyPair("Ed25519");
    const peer = peerIdFromPrivateKey(owner).toString();
    const key = capabilityRecordKey(peer);
    const caps = testCapabilities([{ id: "m", chainModelId: X }]);
    const record = (issuedAt: number, signer = owner) =>
      encodeCapabilityRecord((d) => signer.sign(d), { peer, issuedAt, capabilities: caps });

    const now = Date.now();
    await validateFabstirRecord(key, await record(now));
    await assert.rejects(validateFabstirRecord(key, await record(now, other)), /bad signature/);
    await assert.rejects(
      validateFabstirRecord(key, await record(now - CAPABILITY_RECORD_MAX_AGE_MS - 1_000)),
      /expired/,
    );
    await assert.rejects(
      validateFabstirRecord(capabilityRecordKey(peerIdFromPrivateKey(other)), await record(now)),
      /another peer/,
    );
    await assert.rejects(validateFabstirRecord(key, new TextEncoder().encode("{}")));

    const values = [await record(now - 2_000), await record(now), await record(now - 1_000)];
    assert.equal(await selectFabstirRecord(key, values), 1);
    // A forged newer record loses to a valid older one.
    values.push(await record(now + 1_000, other));
    assert.equal(await selectFabstirRecord(key, values), 1);

    assert.equal(modelCid(X).toString(), modelCid(X.toUpperCase().replace("0X", "0x")).toString());
    assert.notEqual(modelCid(X).toString(), modelCid(Y).toString());
  });
});
