import { createRequire } from "node:module";
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import type { Artifact } from "@nomicfoundation/ignition-core";
import type { Abi } from "viem";

/** The shape of a `build/*.json` file shipped in `@uniswap/v2-core` and `@uniswap/v2-periphery`. */
interface PackagedArtifact {
  abi: Abi;
  evm: { bytecode: { object: string }; deployedBytecode: { object: string } };
}

const require = createRequire(import.meta.url);

/**
 * An Ignition artifact for a compiled contract exactly as its npm package ships it. Uniswap V2
 * is deployed from these bytes and never recompiled: the router computes pair addresses from the
 * init code hash of the packaged Pair, which a recompiled Pair would not match.
 */
function packaged(pkg: "@uniswap/v2-core" | "@uniswap/v2-periphery", name: string): Artifact {
  const json = require(`${pkg}/build/${name}.json`) as PackagedArtifact;
  return {
    _format: "hh3-artifact-1",
    contractName: name,
    sourceName: `${pkg}/build/${name}.json`,
    abi: json.abi,
    bytecode: `0x${json.evm.bytecode.object}`,
    deployedBytecode: `0x${json.evm.deployedBytecode.object}`,
    linkReferences: {},
    deployedLinkReferences: {},
  };
}

/** The packaged Uniswap V2 artifacts (core 1.0.1, periphery 1.1.0-beta.0). */
export const uniswapV2Artifacts = {
  WETH9: packaged("@uniswap/v2-periphery", "WETH9"),
  UniswapV2Factory: packaged("@uniswap/v2-core", "UniswapV2Factory"),
  UniswapV2Pair: packaged("@uniswap/v2-core", "UniswapV2Pair"),
  UniswapV2Router02: packaged("@uniswap/v2-periphery", "UniswapV2Router02"),
} as const;

/**
 * Local chains only: a Uniswap V2 deployment (WETH9, the factory with the deployer as
 * `feeToSetter`, Router02) for the treasury's buybacks. On Base the treasury uses the canonical
 * deployment instead. Pools are seeded by the caller (they need FAB and liquidity).
 */
export default buildModule("UniswapV2Local", (m) => {
  const weth = m.contract("WETH9", uniswapV2Artifacts.WETH9, []);
  const factory = m.contract("UniswapV2Factory", uniswapV2Artifacts.UniswapV2Factory, [
    m.getAccount(0),
  ]);
  const router = m.contract("UniswapV2Router02", uniswapV2Artifacts.UniswapV2Router02, [
    factory,
    weth,
  ]);
  return { weth, factory, router };
});
