import type {
  CallableContractFuture,
  Future,
  IgnitionModuleBuilder,
} from "@nomicfoundation/ignition-core";
import { stringToHex } from "viem";

/** Deploys the test stablecoin (standing in for USDC on Base) and lets the core accept it. */
export function addLocalStablecoin(
  m: IgnitionModuleBuilder,
  core: {
    escrow: CallableContractFuture<"PaymentEscrow">;
    reputation: CallableContractFuture<"ReputationSystem">;
  },
) {
  const stablecoin = m.contract("TestStablecoin", []);
  const setup: Future[] = [
    m.call(core.escrow, "setTokenAllowed", [stablecoin, true]),
    // 10 units (0.00001 USD) is about one token's price on the local marketplace.
    m.call(core.reputation, "setRatingUnit", [stablecoin, 10n], { id: "setRatingUnitStablecoin" }),
  ];
  return { stablecoin, setup };
}

/**
 * The demo models the local marketplace's hosts serve (node/models/generate.ts writes them,
 * deterministically), as listed in its ModelCatalog before the governance handover. `sha256` is
 * the parameter carrying the file's hash (`npm start` computes it from the generated file:
 * local/marketplace.ts); its default is the hash of the file the generator writes today.
 */
export const LOCAL_MODELS = [
  {
    name: "fabstir-tiny-chat",
    sha256: "chatModelSha256",
    fileSha256: "0xc914ec21995b00edd47839132c9a44911b2c9c2035fccdd4433db2541f50f2e4",
    architecture: "llama",
    contextLength: 2_048,
  },
  {
    name: "fabstir-tiny-embed",
    sha256: "embeddingModelSha256",
    fileSha256: "0x9010ddcde918441d128a210cf66f4548fa945ebdbb121983dd3ab954e61e57ac",
    architecture: "bert",
    contextLength: 512,
  },
] as const;

/** Lists the demo models (LOCAL_MODELS) in the catalog, suggesting 1 to 10 gwei per token. */
export function listLocalModels(
  m: IgnitionModuleBuilder,
  catalog: CallableContractFuture<"ModelCatalog">,
): Future[] {
  return LOCAL_MODELS.map((model) =>
    m.call(
      catalog,
      "list",
      [
        stringToHex(model.name, { size: 32 }),
        {
          fileSha256: m.getParameter(model.sha256, model.fileSha256),
          name: model.name,
          architecture: model.architecture,
          quantization: "F32",
          contextLength: model.contextLength,
          licence: "MIT",
          minPricePerToken: 10n ** 9n,
          maxPricePerToken: 10n ** 10n,
        },
      ],
      { id: `listModel_${model.sha256}` },
    ),
  );
}
