/**
 * Upgrade proposals: `upgradeToAndCall(newImplementation, "0x")` on a contract's proxy, made only
 * after the storage-layout checker (scripts/storage-layout.ts) finds the new implementation's
 * layout compatible with the proxy's snapshot. With an artifact name the implementation is
 * deployed from the compiled artifact first, after the check and the proposer's votes pass, so
 * a refused upgrade sends no transaction at all.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import {
  type Abi,
  type Address,
  createWalletClient,
  custom,
  encodeFunctionData,
  getAddress,
  type Hex,
  isAddress,
  parseAbi,
} from "viem";
import type { ContractName } from "../protocol/deployment.ts";
import {
  checkUpgrade,
  type LayoutIssue,
  SNAPSHOT_DIR,
  StorageLayoutError,
  sourceOf,
} from "../scripts/storage-layout.ts";
import type { Governance } from "./client.ts";
import {
  GovernanceUsageError,
  IncompatibleLayoutError,
  InvalidImplementationError,
  LayoutUncheckedError,
} from "./errors.ts";
import { type Proposed, propose, requireProposerVotes } from "./lifecycle.ts";

/** ERC-1967's implementation slot: where a proxy keeps its implementation's address. */
export const IMPLEMENTATION_SLOT: Hex =
  "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc";

const uupsAbi = parseAbi([
  "function upgradeToAndCall(address newImplementation, bytes data) payable",
  "function proxiableUUID() view returns (bytes32)",
]);

export interface UpgradeOptions {
  /** The proxy to upgrade. */
  contract: ContractName;
  /** An implementation deployed already... */
  implementation?: Address;
  /** ...or the compiled artifact to deploy it from (artifacts/contracts/<...>/<Name>.json). */
  artifact?: string;
  description?: string;
  /**
   * The new implementation's source for the layout check, `file.sol` or `file.sol:Name`
   * (default: the artifact's source, else the contract's own).
   */
  source?: string;
  /** The layout the live proxy has (default: storage-layouts/<contract>.json). */
  snapshot?: string;
}

export interface ProposedUpgrade extends Proposed {
  implementation: Address;
  /** The implementation was deployed in `deployTx` by this call. */
  deployTx: Hex | null;
  layout: { source: string; snapshot: string; warnings: string[] };
}

interface Artifact {
  contractName: string;
  sourceName: string;
  abi: Abi;
  bytecode: Hex;
}

/** The compiled artifact of contract `name` (Hardhat's artifacts/contracts/). */
export function readArtifact(root: string, name: string): Artifact {
  const find = (dir: string): string | undefined => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        const found = find(full);
        if (found) return found;
      } else if (entry.name === `${name}.json`) return full;
    }
    return undefined;
  };
  const dir = path.join(root, "artifacts", "contracts");
  const file = existsSync(dir) ? find(dir) : undefined;
  if (!file)
    throw new GovernanceUsageError(`no compiled artifact ${name} under ${dir} (npm run build)`);
  return JSON.parse(readFileSync(file, "utf8")) as Artifact;
}

const issueLine = (i: LayoutIssue) => `${i.severity} [${i.area}] ${i.message}`;

/** Runs the storage-layout check; throws unless the layout is compatible. */
export function checkLayout(
  gov: Governance,
  contract: ContractName,
  source: string,
  name: string,
  snapshot: string,
) {
  let outcome: ReturnType<typeof checkUpgrade>;
  try {
    outcome = checkUpgrade(name, { root: gov.root, source, snapshot });
  } catch (e) {
    if (e instanceof StorageLayoutError)
      throw new LayoutUncheckedError(contract, e.message.split("\n")[0] ?? e.name, e);
    throw e;
  }
  if (outcome.status === "incompatible")
    throw new IncompatibleLayoutError(contract, outcome.errors.map(issueLine));
  return { source, snapshot, warnings: outcome.warnings.map(issueLine) };
}

/** The implementation a proxy of the deployment runs now. */
export async function implementationOf(gov: Governance, contract: ContractName): Promise<Address> {
  const word = await gov.chain.query("implementation slot", (c) =>
    c.getStorageAt({ address: gov.addresses[contract], slot: IMPLEMENTATION_SLOT }),
  );
  return getAddress(`0x${(word ?? "0x").slice(-40).padStart(40, "0")}`);
}

/** Refuses an address without code or without UUPS's proxiableUUID. */
async function requireImplementation(gov: Governance, implementation: Address): Promise<void> {
  const code = await gov.chain.query("implementation code", (c) =>
    c.getCode({ address: implementation }),
  );
  if (!code || code === "0x")
    throw new InvalidImplementationError(`${implementation} has no code on this chain`);
  const uuid = await gov.chain
    .read("proxiableUUID", { address: implementation, abi: uupsAbi, functionName: "proxiableUUID" })
    .catch(() => undefined);
  if (uuid !== IMPLEMENTATION_SLOT)
    throw new InvalidImplementationError(
      `${implementation} is not a UUPS implementation (its proxiableUUID is not ERC-1967's slot)`,
    );
}

/** Deploys `artifact` (a constructor without arguments, as UUPS implementations have). */
async function deployArtifact(gov: Governance, artifact: Artifact) {
  const ctor = artifact.abi.find((i) => i.type === "constructor");
  if (ctor && ctor.inputs.length > 0)
    throw new GovernanceUsageError(
      `${artifact.contractName}'s constructor takes arguments: deploy it yourself and pass --implementation`,
    );
  // Signed with the governance account over the chain client's own connection.
  const wallet = createWalletClient({
    account: gov.chain.account,
    chain: gov.chain.chain,
    transport: custom(gov.chain.public),
  });
  const hash = await wallet.deployContract({ abi: artifact.abi, bytecode: artifact.bytecode });
  const receipt = await gov.chain.query("deploy receipt", (c) =>
    c.waitForTransactionReceipt({ hash }),
  );
  if (receipt.status !== "success" || !receipt.contractAddress)
    throw new InvalidImplementationError(`deploying ${artifact.contractName} failed in ${hash}`);
  return { address: getAddress(receipt.contractAddress), tx: hash };
}

/** Checks the new implementation's layout, then proposes the upgrade of `contract`'s proxy. */
export async function proposeUpgrade(
  gov: Governance,
  options: UpgradeOptions,
): Promise<ProposedUpgrade> {
  const { contract } = options;
  if ((options.implementation === undefined) === (options.artifact === undefined))
    throw new GovernanceUsageError("give the new implementation's address or its artifact");
  if (options.implementation !== undefined && !isAddress(options.implementation))
    throw new GovernanceUsageError(`${options.implementation} is not an address`);
  const artifact = options.artifact ? readArtifact(gov.root, options.artifact) : undefined;
  const [file, named] = options.source?.split(/:(?=\w+$)/) ?? [];
  const source = file ?? artifact?.sourceName ?? sourceOf(contract, { root: gov.root });
  const name = named ?? artifact?.contractName ?? contract;
  const snapshot = options.snapshot ?? path.join(gov.root, SNAPSHOT_DIR, `${contract}.json`);
  const layout = checkLayout(gov, contract, source, name, snapshot);
  await requireProposerVotes(gov);
  let implementation = options.implementation && getAddress(options.implementation);
  let deployTx: Hex | null = null;
  if (artifact) {
    const deployed = await deployArtifact(gov, artifact);
    implementation = deployed.address;
    deployTx = deployed.tx;
  }
  if (!implementation) throw new GovernanceUsageError("no implementation");
  await requireImplementation(gov, implementation);
  const action = {
    target: gov.addresses[contract],
    value: 0n,
    calldata: encodeFunctionData({
      abi: uupsAbi,
      functionName: "upgradeToAndCall",
      args: [implementation, "0x"],
    }),
  };
  const description = options.description ?? `Upgrade ${contract} to ${implementation}`;
  const proposed = await propose(gov, [action], description);
  return { ...proposed, implementation, deployTx, layout };
}
