/**
 * A whole host node from its config on a local chain: it registers itself with its libp2p
 * peer id and HTTP URL, advertises its model in the DHT, and a renter's own libp2p node
 * finds it there, posts a job, and gets the answer streamed over /fabstir/inference/1.0.0
 * with its signed authorization; the host completes the job on chain. A stranger's
 * authorization over libp2p is refused with an error frame.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, it } from "vitest";
import { fabTokenAbi, nodeRegistryAbi } from "../abis/index.ts";
import { devPrivateKey, type LocalChain, startLocalChain } from "../fixtures/local-chain.ts";
import { postJob, readJob, until } from "../fixtures/marketplace.ts";
import { requestHash } from "../protocol/hashing.ts";
import { signJobAuthorization } from "../protocol/job-auth.ts";
import { chainModelId } from "../protocol/model-id.ts";
import type { ServeRequest } from "../protocol/wire.ts";
import { parseNodeConfig } from "./config.ts";
import { type HostNode, startHostNode } from "./host.ts";
import { type TestModels, tinyTestModels } from "./models/test-models.ts";
import { createDiscovery } from "./p2p/discovery.ts";
import { RemoteError } from "./p2p/errors.ts";
import { requestInference } from "./p2p/inference.ts";
import { createP2PNode, type P2PNode } from "./p2p/node.ts";

const MODEL = "tiny-chat";
const PRICE = 10n ** 9n;
const HOST_INDEX = 10;
const RENTER_INDEX = 11;

describe("host node from its config", () => {
  let chain: LocalChain;
  let models: TestModels;
  let dir: string;
  let host: HostNode;
  let renterNode: P2PNode;
  const hostKey = devPrivateKey(HOST_INDEX);
  const hostAddress = privateKeyToAccount(hostKey).address;
  const renter = privateKeyToAccount(devPrivateKey(RENTER_INDEX));

  beforeAll(async () => {
    [chain, models] = await Promise.all([startLocalChain(), tinyTestModels()]);
    dir = await mkdtemp(path.join(tmpdir(), "fabstir-host-"));
    const fund = await chain.wallet(0).writeContract({
      address: chain.addresses.FABToken,
      abi: fabTokenAbi,
      functionName: "transfer",
      args: [hostAddress, 10_000n * 10n ** 18n],
    });
    await chain.publicClient.waitForTransactionReceipt({ hash: fund });
    const config = parseNodeConfig(
      {
        dataDir: "data",
        models: [{ id: MODEL, path: models.chat, role: "chat" }],
        gpu: false,
        threads: 1,
        engine: { contextSize: 512, sequences: 2 },
        cache: { enabled: false },
        http: { port: 0 },
        p2p: { listen: ["/ip4/127.0.0.1/tcp/0"], lan: true },
        chain: {
          rpcUrl: chain.url,
          deploymentDir: chain.deploymentDir,
          region: "local",
          offers: [{ model: MODEL, pricePerToken: PRICE.toString() }],
          pollIntervalMs: 100,
          minTimeLeftSec: 10,
        },
      },
      dir,
    );
    host = await startHostNode(config, {
      env: { ...process.env, FABSTIR_HOST_PRIVATE_KEY: hostKey },
    });
    const bootstrap = host.p2p?.multiaddrs()[0]?.toString();
    assert.ok(bootstrap);
    renterNode = await createP2PNode({
      privateKey: await generateKeyPair("Ed25519"),
      listen: ["/ip4/127.0.0.1/tcp/0"],
      bootstrap: [bootstrap],
      lan: true,
    });
  });
  afterAll(async () => {
    await renterNode?.stop();
    await host?.stop();
    await chain?.stop();
    await models?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("registers its peer id and HTTP URL on chain with the configured offer", async () => {
    const profile = await chain.publicClient.readContract({
      address: chain.addresses.NodeRegistry,
      abi: nodeRegistryAbi,
      functionName: "profileOf",
      args: [hostAddress],
    });
    const peerId = host.p2p?.peerId.toMultihash().bytes;
    assert.ok(peerId);
    assert.equal(profile.endpoints.peerId, `0x${Buffer.from(peerId).toString("hex")}`);
    assert.equal(profile.endpoints.httpUrl, host.http?.url);
    const price = await chain.publicClient.readContract({
      address: chain.addresses.NodeRegistry,
      abi: nodeRegistryAbi,
      functionName: "priceOf",
      args: [hostAddress, chainModelId(MODEL), "0x0000000000000000000000000000000000000000"],
    });
    assert.equal(price, PRICE);
  });

  it("is found through the DHT and streams a paid job over libp2p to its renter", async () => {
    const discovery = createDiscovery(renterNode);
    const found = await until("the host in the DHT", async () => {
      const hosts = await discovery.findHosts(chainModelId(MODEL), { timeoutMs: 2_000 });
      return hosts.find((h) => h.peerId.equals(host.p2p?.peerId)) ?? false;
    });
    const request: ServeRequest = {
      model: MODEL,
      messages: [{ role: "user", content: "hello over libp2p" }],
      params: { temperature: 0, maxTokens: 12 },
    };
    const id = await postJob(chain, RENTER_INDEX, request, { maxPricePerToken: PRICE });
    await until("the claim", async () => (await readJob(chain, id)).status === "Claimed");
    const domain = { chainId: 31337, marketplace: chain.addresses.JobMarketplace };
    const message = { jobId: id, host: hostAddress, requestHash: requestHash(request) };

    // A stranger's signature is refused with an error frame naming the reason.
    const stranger = privateKeyToAccount(devPrivateKey(12));
    await assert.rejects(
      async () => {
        for await (const _ of requestInference(renterNode, found.peerId, {
          ...request,
          job: {
            jobId: id.toString(),
            signature: await signJobAuthorization(stranger, domain, message),
          },
        }));
      },
      (e: unknown) => e instanceof RemoteError && e.code === "wrong_renter",
    );

    const signature = await signJobAuthorization(renter, domain, message);
    let text = "";
    let tokens = 0;
    let chunks = 0;
    for await (const e of requestInference(renterNode, found.peerId, {
      ...request,
      job: { jobId: id.toString(), signature },
    })) {
      if (e.type === "token") {
        text += e.text;
        chunks++;
      } else {
        assert.equal(e.text, text);
        tokens = e.usage.completionTokens;
      }
    }
    assert.ok(chunks > 1 && tokens > 0);
    const done = await until("completion on chain", async () => {
      const j = await readJob(chain, id);
      return j.status === "Completed" && j;
    });
    assert.equal(done.tokensUsed, tokens);
    await discovery.stop();
  });
});
