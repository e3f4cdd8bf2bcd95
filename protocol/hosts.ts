/**
 * A host's status in the NodeRegistry, by the contract enum's label (generated into
 * abis/enums.ts from INodeRegistry.sol), as protocol/jobs.ts does for jobs.
 */
import { HOST_STATUS } from "../abis/index.ts";
import { FabstirError } from "./errors.ts";

/** NodeRegistry's HostStatus, by label. */
export type HostStatus = (typeof HOST_STATUS)[number];

/** A status value the generated labels do not know: the ABIs are older than the contract. */
export class UnknownHostStatusError extends FabstirError {
  override readonly code = "chain_error";
}

export function hostStatus(value: number): HostStatus {
  const label = HOST_STATUS[value];
  if (label === undefined)
    throw new UnknownHostStatusError(`host status ${value} is unknown: rebuild the ABIs`);
  return label;
}
