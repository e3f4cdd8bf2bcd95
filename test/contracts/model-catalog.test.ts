import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { network } from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import { type Abi, encodeFunctionData, keccak256, stringToHex, zeroAddress, zeroHash } from "viem";
import {
  ADMIN_ROLE,
  action,
  deployGoverned,
  passProposal,
  role,
} from "../../fixtures/governance.ts";
import {
  deployProxy,
  deploySystem,
  ETH,
  MODEL,
  OTHER_MODEL,
  registration,
} from "../../fixtures/system.ts";
import { LOCAL_MODELS } from "../../ignition/lib/local.ts";
import { generateModel } from "../../node/models/generate.ts";

/** IModelCatalog.ModelStatus */
const Status = { None: 0, Proposed: 1, Listed: 2, Delisted: 3 } as const;
const LISTER_ROLE = role("LISTER_ROLE");
const PAUSER_ROLE = role("PAUSER_ROLE");
const UPGRADER_ROLE = role("UPGRADER_ROLE");
const GWEI = 10n ** 9n;

interface ModelInfo {
  fileSha256: `0x${string}`;
  name: string;
  architecture: string;
  quantization: string;
  contextLength: number;
  licence: string;
  minPricePerToken: bigint;
  maxPricePerToken: bigint;
}

function info(overrides: Partial<ModelInfo> = {}): ModelInfo {
  return {
    fileSha256: keccak256(stringToHex("llama-3.1-8b-instruct-q4_k_m.gguf")),
    name: "Llama 3.1 8B Instruct",
    architecture: "llama",
    quantization: "Q4_K_M",
    contextLength: 131_072,
    licence: "llama3.1",
    minPricePerToken: GWEI,
    maxPricePerToken: 10n * GWEI,
    ...overrides,
  };
}

/** The core with the deployer (admin) holding every catalog role, and a publisher. */
async function catalogFixture(connection: NetworkConnection) {
  const sys = await deploySystem(connection);
  return { ...sys, publisher: sys.other };
}

describe("ModelCatalog", async () => {
  const connection = await network.create();
  const { viem, networkHelpers } = connection;
  const { loadFixture } = networkHelpers;
  const a = viem.assertions;
  const fixture = () => catalogFixture(connection);

  describe("initialize", () => {
    it("grants the admin every role and cannot run twice", async () => {
      const f = await loadFixture(fixture);
      const admin = f.admin.account.address;
      for (const r of [ADMIN_ROLE, PAUSER_ROLE, UPGRADER_ROLE, LISTER_ROLE]) {
        assert.equal(await f.catalog.read.hasRole([r, admin]), true);
      }
      assert.equal(await f.catalog.read.LISTER_ROLE(), LISTER_ROLE);
      assert.equal(await f.catalog.read.MAX_NAME_BYTES(), 64n);
      assert.equal(await f.catalog.read.MAX_TAG_BYTES(), 32n);
      await a.revertWithCustomError(
        f.catalog.write.initialize([admin]),
        f.catalog,
        "InvalidInitialization",
      );
    });

    it("refuses a zero admin (ModelCatalogZeroAddress)", async () => {
      const f = await loadFixture(fixture);
      const impl = await viem.deployContract("ModelCatalog");
      const init = encodeFunctionData({
        abi: impl.abi as Abi,
        functionName: "initialize",
        args: [zeroAddress],
      });
      await a.revertWithCustomError(
        deployProxy(connection, impl.address, init),
        f.catalog,
        "ModelCatalogZeroAddress",
      );
    });
  });

  describe("propose", () => {
    it("records the model as proposed by the caller and emits ModelProposed with every field", async () => {
      const f = await loadFixture(fixture);
      const who = f.publisher.account.address;
      const hash = await f.catalog.write.propose([MODEL, info()], { account: f.publisher.account });
      await a.emitWithArgs(hash, f.catalog, "ModelProposed", [MODEL, who, info()]);
      const model = await f.catalog.read.modelOf([MODEL]);
      assert.deepEqual(model.info, info());
      assert.equal(model.publisher.toLowerCase(), who.toLowerCase());
      assert.equal(model.status, Status.Proposed);
      assert.equal(await f.catalog.read.isListed([MODEL]), false);
      assert.equal(await f.catalog.read.sha256Of([MODEL]), info().fileSha256);
    });

    it("lets the publisher revise its proposal, and nobody else (ModelCatalogAlreadyProposed)", async () => {
      const f = await loadFixture(fixture);
      await f.catalog.write.propose([MODEL, info()], { account: f.publisher.account });
      const revised = info({ contextLength: 8_192 });
      await a.emitWithArgs(
        f.catalog.write.propose([MODEL, revised], { account: f.publisher.account }),
        f.catalog,
        "ModelProposed",
        [MODEL, f.publisher.account.address, revised],
      );
      assert.equal((await f.catalog.read.modelOf([MODEL])).info.contextLength, 8_192);
      await a.revertWithCustomErrorWithArgs(
        f.catalog.write.propose([MODEL, info()], { account: f.host.account }),
        f.catalog,
        "ModelCatalogAlreadyProposed",
        [MODEL, f.publisher.account.address],
      );
    });

    it("refuses a listed model (ModelCatalogAlreadyListed) and a zero id (ModelCatalogInvalidModelId)", async () => {
      const f = await loadFixture(fixture);
      await f.catalog.write.list([MODEL, info()]);
      await a.revertWithCustomErrorWithArgs(
        f.catalog.write.propose([MODEL, info()], { account: f.publisher.account }),
        f.catalog,
        "ModelCatalogAlreadyListed",
        [MODEL],
      );
      await a.revertWithCustomError(
        f.catalog.write.propose([zeroHash, info()], { account: f.publisher.account }),
        f.catalog,
        "ModelCatalogInvalidModelId",
      );
    });

    it("refuses each invalid field, naming it", async () => {
      const f = await loadFixture(fixture);
      const propose = (i: ModelInfo) =>
        f.catalog.write.propose([MODEL, i], { account: f.publisher.account });
      for (const [bad, field] of [
        [{ fileSha256: zeroHash }, "fileSha256"],
        [{ contextLength: 0 }, "contextLength"],
        [{ name: "" }, "name"],
        [{ architecture: "" }, "architecture"],
        [{ quantization: "" }, "quantization"],
        [{ licence: "" }, "licence"],
      ] as const) {
        await a.revertWithCustomErrorWithArgs(
          propose(info(bad)),
          f.catalog,
          "ModelCatalogInvalidField",
          [field],
        );
      }
      for (const [bad, field, length, max] of [
        [{ name: "n".repeat(65) }, "name", 65n, 64n],
        [{ architecture: "a".repeat(33) }, "architecture", 33n, 32n],
        [{ quantization: "q".repeat(33) }, "quantization", 33n, 32n],
        [{ licence: "l".repeat(33) }, "licence", 33n, 32n],
      ] as const) {
        await a.revertWithCustomErrorWithArgs(
          propose(info(bad)),
          f.catalog,
          "ModelCatalogTooLong",
          [field, length, max],
        );
      }
      await a.revertWithCustomErrorWithArgs(
        propose(info({ minPricePerToken: 2n, maxPricePerToken: 1n })),
        f.catalog,
        "ModelCatalogInvalidPriceRange",
        [2n, 1n],
      );
      // The bounds themselves are fine; so is a range of one price (or of none: 0 to 0).
      await propose(
        info({
          name: "n".repeat(64),
          licence: "l".repeat(32),
          minPricePerToken: 0n,
          maxPricePerToken: 0n,
        }),
      );
      assert.equal((await f.catalog.read.modelOf([MODEL])).status, Status.Proposed);
    });
  });

  describe("list", () => {
    it("lists a model directly, the lister its publisher, and emits ModelListed with every field", async () => {
      const f = await loadFixture(fixture);
      const hash = await f.catalog.write.list([MODEL, info()]);
      await a.emitWithArgs(hash, f.catalog, "ModelListed", [
        MODEL,
        f.admin.account.address,
        info(),
      ]);
      assert.equal(await f.catalog.read.isListed([MODEL]), true);
      const model = await f.catalog.read.modelOf([MODEL]);
      assert.equal(model.status, Status.Listed);
      assert.equal(model.publisher.toLowerCase(), f.admin.account.address.toLowerCase());
    });

    it("approves a proposal with corrected info, keeping its publisher", async () => {
      const f = await loadFixture(fixture);
      await f.catalog.write.propose([MODEL, info()], { account: f.publisher.account });
      const corrected = info({ licence: "MIT", maxPricePerToken: 5n * GWEI });
      const hash = await f.catalog.write.list([MODEL, corrected]);
      await a.emitWithArgs(hash, f.catalog, "ModelListed", [
        MODEL,
        f.publisher.account.address,
        corrected,
      ]);
      const model = await f.catalog.read.modelOf([MODEL]);
      assert.deepEqual(model.info, corrected);
      assert.equal(model.publisher.toLowerCase(), f.publisher.account.address.toLowerCase());
    });

    it("refuses a listed model, a zero id, an invalid field and a caller without LISTER_ROLE", async () => {
      const f = await loadFixture(fixture);
      await f.catalog.write.list([MODEL, info()]);
      await a.revertWithCustomErrorWithArgs(
        f.catalog.write.list([MODEL, info()]),
        f.catalog,
        "ModelCatalogAlreadyListed",
        [MODEL],
      );
      await a.revertWithCustomError(
        f.catalog.write.list([zeroHash, info()]),
        f.catalog,
        "ModelCatalogInvalidModelId",
      );
      await a.revertWithCustomErrorWithArgs(
        f.catalog.write.list([OTHER_MODEL, info({ name: "" })]),
        f.catalog,
        "ModelCatalogInvalidField",
        ["name"],
      );
      await a.revertWithCustomErrorWithArgs(
        f.catalog.write.list([OTHER_MODEL, info()], { account: f.publisher.account }),
        f.catalog,
        "AccessControlUnauthorizedAccount",
        [f.publisher.account.address, LISTER_ROLE],
      );
    });
  });

  describe("delist", () => {
    it("delists a listed model (ModelDelisted); it may be proposed and listed again", async () => {
      const f = await loadFixture(fixture);
      await f.catalog.write.propose([MODEL, info()], { account: f.publisher.account });
      await f.catalog.write.list([MODEL, info()]);
      await a.emitWithArgs(f.catalog.write.delist([MODEL]), f.catalog, "ModelDelisted", [MODEL]);
      assert.equal(await f.catalog.read.isListed([MODEL]), false);
      assert.equal((await f.catalog.read.modelOf([MODEL])).status, Status.Delisted);
      // The hash stays readable: renters may still check a delisted model's file.
      assert.equal(await f.catalog.read.sha256Of([MODEL]), info().fileSha256);
      await a.revertWithCustomErrorWithArgs(
        f.catalog.write.delist([MODEL]),
        f.catalog,
        "ModelCatalogNotListed",
        [MODEL, Status.Delisted],
      );
      // A new publisher may propose it again; governance lists it again.
      await a.emitWithArgs(
        f.catalog.write.propose([MODEL, info({ contextLength: 4_096 })], {
          account: f.host.account,
        }),
        f.catalog,
        "ModelProposed",
        [MODEL, f.host.account.address, info({ contextLength: 4_096 })],
      );
      await f.catalog.write.list([MODEL, info()]);
      assert.equal(await f.catalog.read.isListed([MODEL]), true);
    });

    it("refuses an unlisted model (ModelCatalogNotListed) and a caller without LISTER_ROLE", async () => {
      const f = await loadFixture(fixture);
      await a.revertWithCustomErrorWithArgs(
        f.catalog.write.delist([MODEL]),
        f.catalog,
        "ModelCatalogNotListed",
        [MODEL, Status.None],
      );
      await f.catalog.write.propose([MODEL, info()], { account: f.publisher.account });
      await a.revertWithCustomErrorWithArgs(
        f.catalog.write.delist([MODEL]),
        f.catalog,
        "ModelCatalogNotListed",
        [MODEL, Status.Proposed],
      );
      await f.catalog.write.list([MODEL, info()]);
      await a.revertWithCustomErrorWithArgs(
        f.catalog.write.delist([MODEL], { account: f.publisher.account }),
        f.catalog,
        "AccessControlUnauthorizedAccount",
        [f.publisher.account.address, LISTER_ROLE],
      );
    });
  });

  describe("views", () => {
    it("an unknown model: modelOf all zero, isListed false, sha256Of reverts (ModelCatalogUnknownModel)", async () => {
      const f = await loadFixture(fixture);
      const model = await f.catalog.read.modelOf([MODEL]);
      assert.equal(model.status, Status.None);
      assert.equal(model.publisher, zeroAddress);
      assert.equal(model.info.fileSha256, zeroHash);
      assert.equal(await f.catalog.read.isListed([MODEL]), false);
      await a.revertWithCustomErrorWithArgs(
        f.catalog.read.sha256Of([MODEL]),
        f.catalog,
        "ModelCatalogUnknownModel",
        [MODEL],
      );
    });
  });

  describe("pause", () => {
    it("the pauser stops propose and list; delisting goes on; only the admin unpauses", async () => {
      const f = await loadFixture(fixture);
      await f.catalog.write.list([OTHER_MODEL, info()]);
      const guardian = f.host;
      await f.catalog.write.grantRole([PAUSER_ROLE, guardian.account.address]);
      await a.revertWithCustomErrorWithArgs(
        f.catalog.write.pause({ account: f.publisher.account }),
        f.catalog,
        "AccessControlUnauthorizedAccount",
        [f.publisher.account.address, PAUSER_ROLE],
      );
      await f.catalog.write.pause({ account: guardian.account });
      await a.revertWithCustomError(
        f.catalog.write.propose([MODEL, info()], { account: f.publisher.account }),
        f.catalog,
        "EnforcedPause",
      );
      await a.revertWithCustomError(
        f.catalog.write.list([MODEL, info()]),
        f.catalog,
        "EnforcedPause",
      );
      await f.catalog.write.delist([OTHER_MODEL]);
      await a.revertWithCustomErrorWithArgs(
        f.catalog.write.unpause({ account: guardian.account }),
        f.catalog,
        "AccessControlUnauthorizedAccount",
        [guardian.account.address, ADMIN_ROLE],
      );
      await f.catalog.write.unpause();
      await f.catalog.write.list([MODEL, info()]);
      assert.equal(await f.catalog.read.isListed([MODEL]), true);
    });
  });

  describe("upgrade", () => {
    it("keeps every entry across an upgrade by the UPGRADER_ROLE, and refuses anyone else", async () => {
      const f = await loadFixture(fixture);
      await f.catalog.write.propose([OTHER_MODEL, info()], { account: f.publisher.account });
      await f.catalog.write.list([MODEL, info()]);
      const impl = await viem.deployContract("ModelCatalog");
      await a.revertWithCustomErrorWithArgs(
        f.catalog.write.upgradeToAndCall([impl.address, "0x"], { account: f.publisher.account }),
        f.catalog,
        "AccessControlUnauthorizedAccount",
        [f.publisher.account.address, UPGRADER_ROLE],
      );
      await f.catalog.write.upgradeToAndCall([impl.address, "0x"]);
      assert.equal(await f.catalog.read.isListed([MODEL]), true);
      assert.deepEqual((await f.catalog.read.modelOf([MODEL])).info, info());
      const proposed = await f.catalog.read.modelOf([OTHER_MODEL]);
      assert.equal(proposed.status, Status.Proposed);
      assert.equal(proposed.publisher.toLowerCase(), f.publisher.account.address.toLowerCase());
    });
  });

  describe("NodeRegistry with a catalog", () => {
    it("setModelCatalog is admin-only and emits ModelCatalogUpdated", async () => {
      const f = await loadFixture(fixture);
      assert.equal(await f.registry.read.modelCatalog(), zeroAddress);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.setModelCatalog([f.catalog.address], { account: f.other.account }),
        f.registry,
        "AccessControlUnauthorizedAccount",
        [f.other.account.address, ADMIN_ROLE],
      );
      await a.emitWithArgs(
        f.registry.write.setModelCatalog([f.catalog.address]),
        f.registry,
        "ModelCatalogUpdated",
        [zeroAddress, f.catalog.address],
      );
      assert.equal(
        (await f.registry.read.modelCatalog()).toLowerCase(),
        f.catalog.address.toLowerCase(),
      );
      await a.emitWithArgs(
        f.registry.write.setModelCatalog([zeroAddress]),
        f.registry,
        "ModelCatalogUpdated",
        [f.catalog.address, zeroAddress],
      );
    });

    it("refuses to register or offer an unlisted model (NodeRegistryModelNotInCatalog), accepts a listed one", async () => {
      const f = await loadFixture(fixture);
      await f.registry.write.setModelCatalog([f.catalog.address]);
      const host = f.host.account;
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.register([registration()], { account: host }),
        f.registry,
        "NodeRegistryModelNotInCatalog",
        [MODEL],
      );
      // Proposed is not enough: governance must list it.
      await f.catalog.write.propose([MODEL, info()], { account: f.publisher.account });
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.register([registration()], { account: host }),
        f.registry,
        "NodeRegistryModelNotInCatalog",
        [MODEL],
      );
      await f.catalog.write.list([MODEL, info()]);
      await f.registry.write.register([registration()], { account: host });
      assert.deepEqual(await f.registry.read.modelsOf([host.address]), [MODEL]);
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.setOffers([[{ modelId: OTHER_MODEL, token: ETH, pricePerToken: 1n }]], {
          account: host,
        }),
        f.registry,
        "NodeRegistryModelNotInCatalog",
        [OTHER_MODEL],
      );
      await f.catalog.write.list([OTHER_MODEL, info()]);
      await f.registry.write.setOffers(
        [[{ modelId: OTHER_MODEL, token: ETH, pricePerToken: 1n }]],
        {
          account: host,
        },
      );
      assert.equal(await f.registry.read.priceOf([host.address, OTHER_MODEL, ETH]), 1n);
    });

    it("always lets a host withdraw an offer, even of a delisted model", async () => {
      const f = await loadFixture(fixture);
      const host = f.host.account;
      await f.catalog.write.list([MODEL, info()]);
      await f.registry.write.setModelCatalog([f.catalog.address]);
      await f.registry.write.register([registration()], { account: host });
      await f.catalog.write.delist([MODEL]);
      // Delisted: a new price is refused, but the offer made before stays until withdrawn.
      await a.revertWithCustomErrorWithArgs(
        f.registry.write.setOffers([[{ modelId: MODEL, token: ETH, pricePerToken: 2n }]], {
          account: host,
        }),
        f.registry,
        "NodeRegistryModelNotInCatalog",
        [MODEL],
      );
      const hash = await f.registry.write.setOffers(
        [
          [
            { modelId: MODEL, token: ETH, pricePerToken: 0n },
            // Withdrawing what was never offered (and is not listed) is a no-op, not a revert.
            { modelId: OTHER_MODEL, token: ETH, pricePerToken: 0n },
          ],
        ],
        { account: host },
      );
      await a.emitWithArgs(hash, f.registry, "ModelRemoved", [host.address, MODEL]);
      assert.deepEqual(await f.registry.read.modelsOf([host.address]), []);
    });

    it("with no catalog set, any model may be offered", async () => {
      const f = await loadFixture(fixture);
      await f.registry.write.register([registration()], { account: f.host.account });
      assert.deepEqual(await f.registry.read.modelsOf([f.host.account.address]), [MODEL]);
    });
  });

  describe("governed (LocalDev: the handover)", async () => {
    const governed = await network.create();
    const g = () => deployGoverned(governed);

    it("lists the demo models before the handover, then leaves listing to the timelock alone", async () => {
      const sys = await governed.networkHelpers.loadFixture(g);
      for (const m of LOCAL_MODELS) {
        const id = stringToHex(m.name, { size: 32 });
        assert.equal(await sys.catalog.read.isListed([id]), true, m.name);
        assert.equal(await sys.catalog.read.sha256Of([id]), m.fileSha256, m.name);
      }
      const deployer = sys.deployer.account.address;
      const timelock = sys.timelock.address;
      for (const r of [ADMIN_ROLE, UPGRADER_ROLE, LISTER_ROLE, PAUSER_ROLE]) {
        assert.equal(await sys.catalog.read.hasRole([r, deployer]), false);
        assert.equal(
          await sys.catalog.read.hasRole([r, sys.guardian.account.address]),
          r === PAUSER_ROLE,
        );
        assert.equal(await sys.catalog.read.hasRole([r, timelock]), r !== PAUSER_ROLE);
      }
      for (const who of [sys.deployer, sys.guardian, sys.other]) {
        await governed.viem.assertions.revertWithCustomErrorWithArgs(
          sys.catalog.write.list([MODEL, info()], { account: who.account }),
          sys.catalog,
          "AccessControlUnauthorizedAccount",
          [who.account.address, LISTER_ROLE],
        );
      }
    });

    it("its default hashes are those of the files the generator writes (npm start passes them anyway)", async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), "fabstir-models-"));
      try {
        for (const m of LOCAL_MODELS) {
          const { sha256 } = await generateModel(m.name, path.join(dir, `${m.name}.gguf`));
          assert.equal(`0x${sha256}`, m.fileSha256, m.name);
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it("lists a proposed model through a governance proposal", async () => {
      const sys = await governed.networkHelpers.loadFixture(g);
      await sys.catalog.write.propose([MODEL, info()], { account: sys.other.account });
      await passProposal(
        governed,
        sys,
        [action(sys.catalog, "list", [MODEL, info()])],
        "List Llama 3.1 8B Instruct Q4_K_M",
      );
      assert.equal(await sys.catalog.read.isListed([MODEL]), true);
      assert.equal(
        (await sys.catalog.read.modelOf([MODEL])).publisher.toLowerCase(),
        sys.other.account.address.toLowerCase(),
      );
    });
  });
});
