/** Pure helpers of the governance handlers: tallies and the timelock's operation ids. */
import { encodeAbiParameters, keccak256, numberToHex, toHex } from "viem";
import { VOTE_SUPPORT } from "../../schema/governance.ts";

export { VOTE_SUPPORT };

type Support = (typeof VOTE_SUPPORT)[number];

/** The tally after a vote of `weight` with `support` (GovernorCountingSimple). */
export function proposalTally(
  p: { forVotes: bigint; againstVotes: bigint; abstainVotes: bigint },
  support: Support,
  weight: bigint,
) {
  return {
    forVotes: p.forVotes + (support === "For" ? weight : 0n),
    againstVotes: p.againstVotes + (support === "Against" ? weight : 0n),
    abstainVotes: p.abstainVotes + (support === "Abstain" ? weight : 0n),
  };
}

/**
 * The id of the timelock operation GovernorTimelockControl schedules for a proposal:
 * hashOperationBatch(targets, values, calldatas, 0, bytes20(governor) ^ descriptionHash).
 */
export function timelockOperationId(
  governor: `0x${string}`,
  actions: readonly { target: `0x${string}`; value: string; calldata: `0x${string}` }[],
  descriptionHash: `0x${string}`,
): `0x${string}` {
  const salt = numberToHex((BigInt(governor) << 96n) ^ BigInt(descriptionHash), { size: 32 });
  return keccak256(
    encodeAbiParameters(
      [
        { type: "address[]" },
        { type: "uint256[]" },
        { type: "bytes[]" },
        { type: "bytes32" },
        { type: "bytes32" },
      ],
      [
        actions.map((a) => a.target),
        actions.map((a) => BigInt(a.value)),
        actions.map((a) => a.calldata),
        toHex(0, { size: 32 }),
        salt,
      ],
    ),
  );
}
