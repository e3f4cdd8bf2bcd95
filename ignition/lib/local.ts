import type {
  CallableContractFuture,
  Future,
  IgnitionModuleBuilder,
} from "@nomicfoundation/ignition-core";

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
