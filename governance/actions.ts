/**
 * A proposal's actions: written as `Contract.function([args])` against the deployment's
 * contracts (encoded with the contract's generated ABI; integers may be JSON numbers or decimal
 * strings, an address argument may name a contract of the deployment), or given raw as a target
 * and calldata; and decoded back to that form where the target is a known contract.
 */
import {
  type Abi,
  type AbiFunction,
  type AbiParameter,
  type Address,
  decodeFunctionData,
  encodeFunctionData,
  type Hex,
  isAddress,
  isAddressEqual,
  isHex,
} from "viem";
import {
  fabstirGovernorAbi,
  fabstirTimelockAbi,
  fabstirTreasuryAbi,
  fabTokenAbi,
  jobMarketplaceAbi,
  nodeRegistryAbi,
  paymentEscrowAbi,
  proofSystemAbi,
  reputationSystemAbi,
  sessionManagerAbi,
  stakersPoolAbi,
} from "../abis/index.ts";
import { CONTRACT_NAMES, type ContractName, type Deployment } from "../protocol/deployment.ts";
import { GovernanceUsageError } from "./errors.ts";

/** The ABI of each contract of the deployment. */
export const CONTRACT_ABIS = {
  FABToken: fabTokenAbi,
  NodeRegistry: nodeRegistryAbi,
  JobMarketplace: jobMarketplaceAbi,
  PaymentEscrow: paymentEscrowAbi,
  SessionManager: sessionManagerAbi,
  ReputationSystem: reputationSystemAbi,
  ProofSystem: proofSystemAbi,
  StakersPool: stakersPoolAbi,
  FabstirTreasury: fabstirTreasuryAbi,
  FabstirGovernor: fabstirGovernorAbi,
  FabstirTimelock: fabstirTimelockAbi,
} as const satisfies Record<ContractName, Abi>;

export type Addresses = Deployment["addresses"];

/** One call the timelock makes when the proposal executes. */
export interface ProposalAction {
  target: Address;
  value: bigint;
  calldata: Hex;
}

/** An action as people read it: `call` is `Contract.function([args])`, null for unknown targets. */
export interface DecodedAction extends ProposalAction {
  contract: ContractName | null;
  functionName: string | null;
  args: unknown[] | null;
  call: string | null;
}

export function isContractName(name: string): name is ContractName {
  return (CONTRACT_NAMES as readonly string[]).includes(name);
}

function contractNamed(name: string): ContractName {
  if (!isContractName(name))
    throw new GovernanceUsageError(`unknown contract ${name}: one of ${CONTRACT_NAMES.join(", ")}`);
  return name;
}

/** `PaymentEscrow.setFeeSplit([8000,1500,500])` as its parts; `()` is no arguments. */
export function parseActionSpec(spec: string): {
  contract: ContractName;
  functionName: string;
  args: unknown[];
} {
  const match = /^\s*(\w+)\.(\w+)\s*\(([\s\S]*)\)\s*$/.exec(spec);
  if (!match?.[1] || !match[2])
    throw new GovernanceUsageError(
      `${spec} is not an action: write Contract.function([arg, ...]), e.g. PaymentEscrow.setFeeSplit([8000,1500,500])`,
    );
  const inner = match[3]?.trim() ?? "";
  let args: unknown = [];
  if (inner !== "") {
    try {
      args = JSON.parse(inner);
    } catch {
      throw new GovernanceUsageError(`the arguments of ${spec} are not a JSON array`);
    }
  }
  if (!Array.isArray(args))
    throw new GovernanceUsageError(
      `the arguments of ${spec} must be a JSON array of all the arguments, e.g. (["0x..", "5"])`,
    );
  return { contract: contractNamed(match[1]), functionName: match[2], args };
}

/** A JSON value as the ABI type `param` wants it (integers as bigints, names as addresses). */
function coerce(param: AbiParameter, value: unknown, where: string, addresses: Addresses): unknown {
  const bad = (what: string): never => {
    throw new GovernanceUsageError(
      `${where} (${param.type}) ${what}, got ${JSON.stringify(value)}`,
    );
  };
  const array = /^(.*)\[(\d*)\]$/.exec(param.type);
  if (array) {
    if (!Array.isArray(value)) return bad("must be an array");
    if (array[2] && value.length !== Number(array[2])) bad(`must have ${array[2]} elements`);
    const element = { ...param, type: array[1] ?? "" };
    return value.map((v, i) => coerce(element, v, `${where}[${i}]`, addresses));
  }
  if (param.type === "tuple") {
    const components = "components" in param ? param.components : [];
    if (Array.isArray(value)) {
      if (value.length !== components.length) bad(`must have ${components.length} fields`);
      return components.map((c, i) => coerce(c, value[i], `${where}.${c.name ?? i}`, addresses));
    }
    if (typeof value !== "object" || value === null) return bad("must be an object or an array");
    const fields = value as Record<string, unknown>;
    return Object.fromEntries(
      components.map((c, i) => [
        c.name ?? String(i),
        coerce(c, fields[c.name ?? String(i)], `${where}.${c.name ?? i}`, addresses),
      ]),
    );
  }
  if (/^u?int\d*$/.test(param.type)) {
    if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
    if (typeof value === "string" && /^(-?\d+|0x[0-9a-fA-F]+)$/.test(value)) return BigInt(value);
    return bad("must be a whole number (a JSON number, or a decimal string for large values)");
  }
  if (param.type === "address") {
    if (typeof value === "string" && isContractName(value)) return addresses[value];
    if (typeof value === "string" && isAddress(value)) return value;
    return bad("must be an address or a contract name");
  }
  if (param.type === "bool")
    return typeof value === "boolean" ? value : bad("must be true or false");
  if (param.type === "string") return typeof value === "string" ? value : bad("must be a string");
  if (param.type.startsWith("bytes"))
    return typeof value === "string" && isHex(value) ? value : bad("must be 0x-prefixed hex");
  return value;
}

/** Encodes `Contract.function([args])` against the deployment. */
export function encodeAction(spec: string, addresses: Addresses): ProposalAction {
  const { contract, functionName, args } = parseActionSpec(spec);
  // The ABI widened to `Abi`: the function is the user's choice, found and checked here.
  const abi: Abi = CONTRACT_ABIS[contract];
  const named = abi.filter(
    (item): item is AbiFunction => item.type === "function" && item.name === functionName,
  );
  if (named.length === 0)
    throw new GovernanceUsageError(`${contract} has no function ${functionName}`);
  const fn = named.find((f) => f.inputs.length === args.length);
  if (!fn)
    throw new GovernanceUsageError(
      `${contract}.${functionName} takes ${named.map((f) => f.inputs.length).join(" or ")} arguments, got ${args.length}: ${named.map(signature).join("; ")}`,
    );
  if (fn.stateMutability === "view" || fn.stateMutability === "pure")
    throw new GovernanceUsageError(
      `${contract}.${functionName} is a ${fn.stateMutability} function`,
    );
  const values = fn.inputs.map((p, i) =>
    coerce(p, args[i], `${contract}.${functionName} argument ${p.name || i}`, addresses),
  );
  return {
    target: addresses[contract],
    value: 0n,
    calldata: encodeFunctionData({ abi: [fn], functionName: fn.name, args: values }),
  };
}

/** An action given as a target address and its calldata. */
export function rawAction(target: string, calldata: string, value = 0n): ProposalAction {
  if (!isAddress(target)) throw new GovernanceUsageError(`--target ${target} is not an address`);
  if (!isHex(calldata)) throw new GovernanceUsageError(`--calldata ${calldata} is not 0x-hex`);
  return { target, value, calldata };
}

const signature = (f: AbiFunction) =>
  `${f.name}(${f.inputs.map((p) => `${p.type}${p.name ? ` ${p.name}` : ""}`).join(", ")})`;

/** JSON with bigints as numbers where they are exact, else as decimal strings. */
function argsJson(args: readonly unknown[]): string {
  return JSON.stringify(args, (_k, v) =>
    typeof v === "bigint" ? (Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()) : v,
  );
}

/** The contract of the deployment at `target`, if any. */
export function contractAt(target: Address, addresses: Addresses): ContractName | null {
  return CONTRACT_NAMES.find((name) => isAddressEqual(addresses[name], target)) ?? null;
}

/** Decodes an action back to `Contract.function([args])` where its target is known. */
export function decodeAction(action: ProposalAction, addresses: Addresses): DecodedAction {
  const contract = contractAt(action.target, addresses);
  const unknown = { ...action, contract, functionName: null, args: null, call: null };
  if (!contract) return unknown;
  try {
    const abi: Abi = CONTRACT_ABIS[contract];
    const { functionName, args } = decodeFunctionData({ abi, data: action.calldata });
    const list = [...(args ?? [])];
    return {
      ...action,
      contract,
      functionName,
      args: list,
      call: `${contract}.${functionName}(${argsJson(list)})`,
    };
  } catch {
    return unknown;
  }
}
