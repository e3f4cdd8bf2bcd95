import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { deployCore } from "../lib/core.ts";
import { deployGovernance } from "../lib/governance.ts";
import { addLocalStablecoin, listLocalModels } from "../lib/local.ts";
import UniswapV2Local from "./UniswapV2Local.ts";

const FAB = 10n ** 18n;
const ETH = 10n ** 18n;
const USD = 10n ** 6n;
const NO_DEADLINE = 2n ** 63n;

/**
 * The local marketplace's chain (`npm start`, the e2e tests): the core, a test stablecoin
 * (standing in for USDC on Base), Uniswap V2 as its packages ship it with seeded FAB/WETH and
 * tUSD/WETH pools (for the treasury's buybacks), then governance with the handover, exactly as
 * a public deployment (FabstirGoverned.ts) does it, only with short voting and timelock periods
 * so a proposal's whole life fits in minutes. The ModelCatalog lists the demo models
 * (ignition/lib/local.ts, parameters chatModelSha256 and embeddingModelSha256), but the registry
 * does not check offers against it here: the tests on this chain offer models nobody lists.
 * Dev accounts: 0 deploys (and, as the FAB holder,
 * votes), 10 is the arbiter, 11 the guardian, 12 the buyback keeper. Never deploy this module to
 * a public network.
 */
export default buildModule("FabstirLocalDev", (m) => {
  const { contracts: core, setup: coreSetup } = deployCore(m);
  const { stablecoin, setup } = addLocalStablecoin(m, core);
  setup.push(...coreSetup);
  // The demo models, listed with their files' hashes while the deployer still holds LISTER_ROLE.
  setup.push(...listLocalModels(m, core.catalog));
  const { weth, router } = m.useModule(UniswapV2Local);
  const deployer = m.getAccount(0);

  // Seed the pools the buybacks swap through: 1 FAB = 0.0001 ETH, 1 ETH = 3000 tUSD.
  const approveFab = m.call(core.fab, "approve", [router, 1_000_000n * FAB], {
    id: "approveRouterFab",
  });
  setup.push(
    m.call(router, "addLiquidityETH", [core.fab, 1_000_000n * FAB, 0n, 0n, deployer, NO_DEADLINE], {
      id: "seedFabPool",
      value: 100n * ETH,
      after: [approveFab],
    }),
  );
  const mintUsd = m.call(stablecoin, "mint", [deployer, 300_000n * USD], { id: "mintPoolUsd" });
  const approveUsd = m.call(stablecoin, "approve", [router, 300_000n * USD], {
    id: "approveRouterUsd",
    after: [mintUsd],
  });
  setup.push(
    m.call(router, "addLiquidityETH", [stablecoin, 300_000n * USD, 0n, 0n, deployer, NO_DEADLINE], {
      id: "seedUsdPool",
      value: 100n * ETH,
      after: [approveUsd],
    }),
  );
  // The deployer holds the local FAB supply: it votes with it (delegation is an ERC20Votes step).
  setup.push(m.call(core.fab, "delegate", [deployer], { id: "delegateDeployer" }));

  const governance = deployGovernance(m, core, {
    router,
    weth,
    setup,
    rewardTokens: [stablecoin],
    // The buyback path for tUSD fees: tUSD → WETH → FAB.
    swapPaths: [[stablecoin, [stablecoin, weth, core.fab]]],
    defaults: {
      arbiter: m.getAccount(10),
      guardian: m.getAccount(11),
      keeper: m.getAccount(12),
      votingDelay: 60n,
      votingPeriod: 600n,
      lateQuorumExtension: 60n,
      timelockDelay: 120n,
    },
  });
  return { ...core, stablecoin, weth, router, ...governance };
});
