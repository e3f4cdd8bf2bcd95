/**
 * The governance command line: a proposal's whole life on the FabstirGovernor, and the
 * tokenomics' stakers and keepers (the StakersPool, the treasury's buybacks), over the library
 * in governance/index.ts.
 *
 *   npm run governance -- propose --action 'PaymentEscrow.setFeeSplit([8000,1500,500])' --description "..."
 *   npm run governance -- vote <id> for
 *   npm run governance -- queue <id>
 *   npm run governance -- execute <id>
 *   npm run governance -- pool stake 1000 --tier 1
 *   npm run governance -- pool claim
 *   npm run governance -- buyback --token ETH
 *
 * The key: FABSTIR_GOVERNANCE_KEY (or --key). Addresses come from the deployment
 * (--deployment-dir, FABSTIR_DEPLOYMENT_DIR or ignition/deployments/chain-<id>). Every command
 * takes --json for scripts; a refused step exits 1 with the reason.
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { type Address, isAddress } from "viem";
import { createOutput, formatUnits18 } from "../protocol/cli-output.ts";
import { createLogger } from "../protocol/logger.ts";
import { resolveGovernanceSettings } from "./config.ts";
import {
  buyback,
  cancel,
  chainNow,
  claimRewards,
  connectGovernance,
  delegate,
  encodeAction,
  execute,
  formatDuration,
  formatTime,
  formatToken,
  type Governance,
  GovernanceUsageError,
  governanceStatus,
  isContractName,
  listProposals,
  type ProposalAction,
  parseAmount,
  parseToken,
  poolStatus,
  propose,
  proposeUpgrade,
  queue,
  rawAction,
  SUPPORT,
  type Support,
  showProposal,
  stakeFab,
  tokenInfo,
  treasuryStatus,
  vote,
  withdrawFab,
} from "./index.ts";

const USAGE = `usage: npm run governance -- <command> [options]

commands:
  propose --action 'Contract.function([args])' [--action ...] [--target 0x.. --calldata 0x..]
          --description TEXT        args: a JSON array; integers as numbers or decimal strings;
                                    an address argument may name a contract (e.g. "FabstirTreasury")
  propose-upgrade --contract NAME (--implementation 0x.. | --artifact NAME) [--description TEXT]
          [--source FILE.sol[:Name]] [--snapshot FILE.json]
                                    checks the storage layout against storage-layouts/NAME.json
                                    first; --artifact deploys the implementation from artifacts/
  vote <id> for|against|abstain [--reason TEXT]
  queue <id>                        after the vote succeeded
  execute <id>                      after the timelock delay
  cancel <id>                       the proposer, before voting opens
  list                              every proposal with its state and tally
  show <id>                         actions, votes, quorum and timeline
  delegate [0xTO]                   delegate your FAB votes (default: to yourself)
  status [0xACCOUNT]                FAB balance, votes, delegate; the governor's settings

stakers and keepers (ETH is written ETH; amounts in whole tokens, e.g. 1000 or 12.5):
  pool [0xACCOUNT]                  positions per lock tier, shares, host stake, pending rewards;
                                    the pool's totals and lock tiers
  pool stake <FAB> [--tier N]       approves FAB to the pool if needed, then stakes (tier 0: no lock)
  pool withdraw <FAB> --tier N      once the position's lock has ended
  pool claim [--to 0x..] [--token ETH|0x.. ...] [--no-sync]
                                    syncs each reward token (newly arrived fees), then claims
  treasury [--token 0x.. ...]       buyback reserves, free funds, settings, swap paths
  buyback [--token ETH|0x..] [--amount X] [--slippage-bps N]
                                    keeper or admin: sync, quote, swap the reserve into FAB
                                    (default: the whole ETH reserve, the treasury's max slippage)

common: --rpc-url URL (http://127.0.0.1:8545)  --chain-id N (31337)  --deployment-dir DIR  --json
        (defaults: FABSTIR_RPC_URL, FABSTIR_CHAIN_ID, FABSTIR_DEPLOYMENT_DIR, then the local
        marketplace that \`npm start\` runs)
key:    FABSTIR_GOVERNANCE_KEY (or --key 0x..); on the local chain dev account 0 holds the FAB
        votes: 0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80`;

const { values, positionals, tokens } = parseArgs({
  allowPositionals: true,
  tokens: true,
  options: {
    json: { type: "boolean", default: false },
    "rpc-url": { type: "string" },
    "chain-id": { type: "string" },
    "deployment-dir": { type: "string" },
    key: { type: "string" },
    action: { type: "string", multiple: true },
    target: { type: "string", multiple: true },
    calldata: { type: "string", multiple: true },
    description: { type: "string" },
    contract: { type: "string" },
    implementation: { type: "string" },
    artifact: { type: "string" },
    source: { type: "string" },
    snapshot: { type: "string" },
    reason: { type: "string" },
    tier: { type: "string" },
    to: { type: "string" },
    token: { type: "string", multiple: true },
    "no-sync": { type: "boolean", default: false },
    amount: { type: "string" },
    "slippage-bps": { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
const out = createOutput(values.json === true, "fabstir governance");
const [command, arg, arg2] = positionals;

function proposalId(raw: string | undefined): bigint {
  if (!raw || !/^(\d+|0x[0-9a-fA-F]+)$/.test(raw))
    throw new GovernanceUsageError(`${command} needs a proposal id (see \`list\`)`);
  return BigInt(raw);
}

/** The actions in the order given: --action specs and --target/--calldata pairs. */
function actionsFromFlags(): ProposalAction[] {
  const actions: ProposalAction[] = [];
  let target: string | undefined;
  for (const t of tokens) {
    if (t.kind !== "option" || t.value === undefined) continue;
    if (t.name === "action") actions.push(encodeAction(t.value, gov().addresses));
    else if (t.name === "target") {
      if (target) throw new GovernanceUsageError(`--target ${target} has no --calldata`);
      target = t.value;
    } else if (t.name === "calldata") {
      if (!target) throw new GovernanceUsageError("--calldata goes after its --target");
      actions.push(rawAction(target, t.value));
      target = undefined;
    }
  }
  if (target) throw new GovernanceUsageError(`--target ${target} has no --calldata`);
  return actions;
}

let connected: Governance | undefined;
function gov(): Governance {
  connected ??= connectGovernance({
    ...resolveGovernanceSettings(values),
    logger: createLogger({
      name: "fabstir-governance",
      stderr: true,
      level: process.env.FABSTIR_LOG_LEVEL ?? "warn",
    }),
  });
  return connected;
}
const hasKey = () => values.key !== undefined || process.env.FABSTIR_GOVERNANCE_KEY !== undefined;
/** A governance with the signing key, for the commands that send transactions. */
function signer() {
  if (!hasKey())
    throw new GovernanceUsageError(`${command} signs a transaction: set FABSTIR_GOVERNANCE_KEY`);
  return gov();
}

/** A whole number flag, or undefined when absent. */
function wholeFlag(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw))
    throw new GovernanceUsageError(`--${name} expects a whole number, got ${raw}`);
  return Number(raw);
}

function addressArg(what: string, raw: string | undefined): Address | undefined {
  if (raw !== undefined && !isAddress(raw))
    throw new GovernanceUsageError(`${what} ${raw}: not an address`);
  return raw;
}

const fab = (v: bigint) => `${formatUnits18(v)} FAB`;
const times = (bps: number) => `${bps / 10_000}x`;
const lockLabel = (duration: bigint) =>
  duration === 0n ? "no lock" : `${formatDuration(duration)} lock`;
const tally = (v: { for: bigint; against: bigint; abstain: bigint }) =>
  `for ${fab(v.for)}, against ${fab(v.against)}, abstain ${fab(v.abstain)}`;

try {
  if (values.help || !command) {
    console.log(USAGE);
    process.exit(command ? 0 : 1);
  }
  switch (command) {
    case "propose": {
      const g = signer();
      const r = await propose(g, actionsFromFlags(), values.description ?? "");
      const now = await chainNow(g);
      out.result(r, () =>
        [
          `proposal ${r.id}`,
          `  proposed in ${r.tx}`,
          ...r.actions.map((a, i) => `  ${i + 1}. ${a.call ?? `${a.target} ${a.calldata}`}`),
          `  voting opens after ${formatTime(r.snapshot, now)} and closes after ${formatTime(r.deadline, now)}`,
        ].join("\n"),
      );
      break;
    }
    case "propose-upgrade": {
      const contract = values.contract ?? "";
      if (!isContractName(contract))
        throw new GovernanceUsageError(
          "propose-upgrade needs --contract NAME (e.g. PaymentEscrow)",
        );
      const implementation = values.implementation;
      if (implementation !== undefined && !isAddress(implementation))
        throw new GovernanceUsageError(`--implementation ${implementation} is not an address`);
      const g = signer();
      const r = await proposeUpgrade(g, {
        contract,
        implementation,
        artifact: values.artifact,
        description: values.description,
        // Paths on the command line are the user's, relative to where they run it.
        source: values.source?.replace(/^(.+?\.sol)(?=:\w+$|$)/, (f) => path.resolve(f)),
        snapshot: values.snapshot === undefined ? undefined : path.resolve(values.snapshot),
      });
      out.result(r, () =>
        [
          `proposal ${r.id}`,
          `  storage layout compatible with ${r.layout.snapshot}${r.layout.warnings.length > 0 ? `:\n${r.layout.warnings.map((w) => `    ${w}`).join("\n")}` : ""}`,
          r.deployTx ? `  implementation ${r.implementation} deployed in ${r.deployTx}` : "",
          `  ${r.actions[0]?.call ?? ""}`,
          `  proposed in ${r.tx}`,
        ]
          .filter(Boolean)
          .join("\n"),
      );
      break;
    }
    case "vote": {
      if (!arg2 || !(arg2 in SUPPORT))
        throw new GovernanceUsageError("usage: vote <id> for|against|abstain [--reason TEXT]");
      const r = await vote(signer(), proposalId(arg), arg2 as Support, values.reason);
      out.result(
        r,
        () =>
          `voted ${r.support} on proposal ${r.id} with ${fab(r.weight)} of votes in ${r.tx}${r.weight === 0n ? "\n  (no votes at the proposal's snapshot: delegate before a proposal is made to vote with your FAB)" : ""}`,
      );
      break;
    }
    case "queue": {
      const g = signer();
      const r = await queue(g, proposalId(arg));
      const now = await chainNow(g);
      out.result(
        r,
        () => `queued proposal ${r.id} in ${r.tx}; execute it from ${formatTime(r.eta, now)}`,
      );
      break;
    }
    case "execute": {
      const r = await execute(signer(), proposalId(arg));
      out.result(r, () => `executed proposal ${r.id} in ${r.tx}`);
      break;
    }
    case "cancel": {
      const r = await cancel(signer(), proposalId(arg));
      out.result(r, () => `cancelled proposal ${r.id} in ${r.tx}`);
      break;
    }
    case "list": {
      const g = gov();
      const [proposals, now] = await Promise.all([listProposals(g), chainNow(g)]);
      out.result({ proposals }, () =>
        proposals.length === 0
          ? "no proposals"
          : proposals
              .map((p) =>
                [
                  `${p.id}  ${p.state}  ${p.description.split("\n")[0]}`,
                  `  ${tally(p.votes)}`,
                  `  deadline ${formatTime(p.deadline, now)}${p.eta ? `, eta ${formatTime(p.eta, now)}` : ""}`,
                ].join("\n"),
              )
              .join("\n"),
      );
      break;
    }
    case "show": {
      const p = await showProposal(gov(), proposalId(arg));
      out.result(p, () =>
        [
          `proposal ${p.id}: ${p.state}`,
          `proposer ${p.proposer} (block ${p.block}, ${p.tx})`,
          `description: ${p.description}`,
          "actions:",
          ...p.actions.map(
            (a, i) =>
              `  ${i + 1}. ${a.call ?? `${a.target} ${a.calldata}`}${a.value > 0n ? ` with ${formatUnits18(a.value)} ETH` : ""}`,
          ),
          `votes: ${tally(p.votes)}; quorum ${fab(p.quorum)} (for + abstain)`,
          `voting opens after ${formatTime(p.snapshot, p.now)}`,
          `voting closes after ${formatTime(p.deadline, p.now)}`,
          p.eta ? `executable from ${formatTime(p.eta, p.now)}` : "not queued",
        ].join("\n"),
      );
      break;
    }
    case "delegate": {
      if (arg !== undefined && !isAddress(arg))
        throw new GovernanceUsageError(`delegate ${arg}: not an address`);
      const r = await delegate(signer(), arg);
      out.result(
        r,
        () =>
          `${r.account} delegates its ${fab(r.balance)} to ${r.delegate} (${r.tx}); its own votes: ${fab(r.votes)}`,
      );
      break;
    }
    case "status": {
      if (arg !== undefined && !isAddress(arg))
        throw new GovernanceUsageError(`status ${arg}: not an address`);
      if (arg === undefined && !hasKey())
        throw new GovernanceUsageError("status needs an address, or FABSTIR_GOVERNANCE_KEY");
      const s = await governanceStatus(gov(), arg);
      const c = s.settings;
      out.result(s, () =>
        [
          `account ${s.account}: ${fab(s.balance)}, ${fab(s.votes)} of votes, delegate ${s.delegate}`,
          `governor ${c.governor}, timelock ${c.timelock}`,
          `voting delay ${formatDuration(c.votingDelay)}, voting period ${formatDuration(c.votingPeriod)}, late-quorum extension ${formatDuration(c.lateQuorumExtension)}`,
          `proposal threshold ${fab(c.proposalThreshold)}, quorum ${c.quorumPercent}% (${fab(c.quorum)} now)`,
          `timelock delay ${formatDuration(c.timelockDelay)}`,
        ].join("\n"),
      );
      break;
    }
    case "pool": {
      if (arg === "stake") {
        if (!arg2) throw new GovernanceUsageError("usage: pool stake <amountFAB> [--tier N]");
        const r = await stakeFab(signer(), parseAmount(arg2), wholeFlag("tier", values.tier) ?? 0);
        const now = await chainNow(gov());
        out.result(r, () =>
          [
            r.approveTx ? `approved ${fab(r.amount)} to the pool in ${r.approveTx}` : "",
            `staked ${fab(r.amount)} in tier ${r.tier} (${times(r.multiplierBps)}) in ${r.tx}`,
            `  ${r.lockEnd > now ? `locked until ${formatTime(r.lockEnd, now)}` : "no lock"}; shares ${formatUnits18(r.shares)} of ${formatUnits18(r.totalShares)}`,
          ]
            .filter(Boolean)
            .join("\n"),
        );
        break;
      }
      if (arg === "withdraw") {
        const tier = wholeFlag("tier", values.tier);
        if (!arg2 || tier === undefined)
          throw new GovernanceUsageError("usage: pool withdraw <amountFAB> --tier N");
        const r = await withdrawFab(signer(), parseAmount(arg2), tier);
        out.result(
          r,
          () =>
            `withdrew ${fab(r.amount)} from tier ${r.tier} in ${r.tx}; ${fab(r.remaining)} left there`,
        );
        break;
      }
      if (arg === "claim") {
        const r = await claimRewards(signer(), {
          to: addressArg("--to", values.to),
          tokens: values.token?.map((t) => parseToken(t)),
          sync: !values["no-sync"],
        });
        out.result(r, () =>
          r.tx
            ? `claimed to ${r.to} in ${r.tx}: ${r.claimed.map((c) => formatToken(c.amount, c.token)).join(", ")}`
            : `nothing to claim${r.synced ? " (after syncing)" : ""}`,
        );
        break;
      }
      if (arg !== undefined && !isAddress(arg))
        throw new GovernanceUsageError(
          `pool ${arg}: not an address, nor stake, withdraw or claim\n${USAGE}`,
        );
      const account = arg;
      if (account === undefined && !hasKey())
        throw new GovernanceUsageError("pool needs an address, or FABSTIR_GOVERNANCE_KEY");
      const s = await poolStatus(gov(), account);
      const tierOf = (n: number) => s.pool.tiers[n];
      out.result(s, () =>
        [
          `account ${s.account}: ${formatUnits18(s.shares)} shares of ${formatUnits18(s.pool.totalShares)}`,
          `  host stake ${fab(s.hostStake)} (counted at ${times(s.pool.hostMultiplierBps)})`,
          ...s.positions
            .filter((p) => p.amount > 0n)
            .map(
              (p) =>
                `  tier ${p.tier} (${lockLabel(tierOf(p.tier)?.duration ?? 0n)}): ${fab(p.amount)} at ${times(p.multiplierBps)}, ${p.lockEnd > s.now ? `locked until ${formatTime(p.lockEnd, s.now)}` : "unlocked"}`,
            ),
          `  pending rewards: ${s.rewards.map((r) => formatToken(r.pending, r.token)).join(", ")}`,
          `pool ${s.pool.address}: ${fab(s.pool.totalStaked)} staked, ${formatUnits18(s.pool.totalShares)} shares${s.pool.paused ? " (paused: no staking or syncs)" : ""}`,
          `  lock tiers: ${s.pool.tiers.map((t) => `${t.tier}: ${lockLabel(t.duration)} ${times(t.multiplierBps)}`).join("; ")}`,
        ].join("\n"),
      );
      break;
    }
    case "treasury": {
      const s = await treasuryStatus(
        gov(),
        values.token?.map((t) => parseToken(t)),
      );
      out.result(s, () =>
        [
          `treasury ${s.address}${s.paused ? " (paused: no buybacks)" : ""}`,
          `  buyback share ${s.buybackShareBps / 100}%, max slippage ${s.maxSlippageBps / 100}%, bought FAB ${s.destination === "Burn" ? "is burned" : `goes to the stakers pool ${s.stakersPool}`}`,
          `  router ${s.router}`,
          ...s.tokens.map((t) =>
            [
              `  ${t.token.symbol}: reserve ${formatToken(t.reserve, t.token)}, free ${formatToken(t.free, t.token)}${t.unsynced > 0n ? `, ${formatToken(t.unsynced, t.token)} arrived since the last sync` : ""}`,
              `    swap path: ${t.swapPath.length > 0 ? t.swapPath.join(" → ") : "none"}`,
            ].join("\n"),
          ),
        ].join("\n"),
      );
      break;
    }
    case "buyback": {
      if ((values.token?.length ?? 0) > 1)
        throw new GovernanceUsageError("buyback takes one --token");
      const g = signer();
      const token = parseToken(values.token?.[0] ?? "ETH");
      const amount =
        values.amount === undefined
          ? undefined
          : parseAmount(values.amount, (await tokenInfo(g, token)).decimals, "--amount");
      const r = await buyback(g, {
        token,
        amount,
        slippageBps: wholeFlag("slippage-bps", values["slippage-bps"]),
      });
      out.result(r, () =>
        [
          `bought ${fab(r.fabOut)} with ${formatToken(r.amountIn, r.token)} in ${r.tx}`,
          `  quote ${fab(r.quote)}, minimum ${fab(r.minFabOut)} (${r.slippageBps} bps slippage)`,
          `  ${r.destination === "Burn" ? "burned" : `sent to the stakers pool ${r.stakersPool}`}`,
        ].join("\n"),
      );
      break;
    }
    default:
      throw new GovernanceUsageError(`unknown command ${command}\n${USAGE}`);
  }
} catch (e) {
  out.fail(e);
}
