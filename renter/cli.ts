/**
 * The renter's command line.
 *
 *   npm run renter -- hosts --model fabstir-tiny-chat [--sort price|score] [--json]
 *   npm run renter -- host 0xHOST
 *   npm run renter -- prompt "why is the sky blue?" --model fabstir-tiny-chat [--by score]
 *   npm run renter -- job 3
 *   npm run renter -- accept 3
 *   npm run renter -- dispute 3 --reason "wrong answer"
 *   npm run renter -- rate job 3 --stars 5
 *   npm run renter -- gateway [--port 8787]
 *
 * The marketplace and key come from flags, the environment or the local marketplace
 * (see renter/config.ts). Every command takes --json for scripts.
 */
import { parseArgs } from "node:util";
import { createOutput, formatUnits18 } from "../protocol/cli-output.ts";
import { startHttpServer } from "../protocol/http-server.ts";
import { createLogger } from "../protocol/logger.ts";
import { createRenter } from "./client.ts";
import {
  acceptJob,
  closeSessionOnChain,
  disputeJob,
  listHosts,
  parseJobId,
  parseSessionId,
  runPrompt,
  runSessionPrompt,
  showHost,
  showJob,
  showSession,
} from "./commands.ts";
import { renterAccount, resolveRenterSettings } from "./config.ts";
import { RenterUsageError } from "./errors.ts";
import { createGatewayApp } from "./gateway.ts";

const USAGE = `usage: npm run renter -- <command> [options]

commands:
  hosts --model M [--sort price|score|recent] [--token ETH|0x..] [--limit N]
  host <address>
  prompt <text> --model M [--by price|score] [--host 0x..] [--max-tokens N]
         [--temperature T] [--seed S] [--system TEXT] [--token ETH|0x..]
         [--job [--no-accept]]   (default: a session, opened and settled for this prompt;
                                  --job: one marketplace job instead)
  session <id>                   a session's terms and state on chain
  close-session <id>             ask to close one of your sessions on chain (or settle it
                                 once the host's window has passed)
  job <id>
  accept <id>
  dispute <id> --reason TEXT     locks the dispute bond (a share of the payment, returned
                                 by the arbiter if you are right)
  expire <id>                    take back a job its host claimed and did not complete in time
  rate job|session <id> --stars 1..5
                                 rate your settled job or session once (weighted by its price)
  gateway [--port 8787] [--bind 127.0.0.1] [--jobs] [--spot-check RATE] [--arbiter URL]
                                 (default: sessions; --jobs: one job per request;
                                 --spot-check 0.05: check 5% of session answers with another
                                 host; a failed check becomes a bonded challenge whose
                                 evidence goes to the arbiter, default FABSTIR_ARBITER_URL or
                                 the local marketplace's)

common: --json  --rpc URL  --api URL  --marketplace FILE
        --min-score N            only hosts with an on-chain score of at least N (0-1000);
                                 the contracts enforce it`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    json: { type: "boolean", default: false },
    rpc: { type: "string" },
    api: { type: "string" },
    marketplace: { type: "string" },
    model: { type: "string", short: "m" },
    sort: { type: "string" },
    by: { type: "string" },
    token: { type: "string" },
    limit: { type: "string" },
    host: { type: "string" },
    port: { type: "string" },
    bind: { type: "string" },
    "max-tokens": { type: "string" },
    temperature: { type: "string" },
    seed: { type: "string" },
    system: { type: "string" },
    "no-accept": { type: "boolean", default: false },
    job: { type: "boolean", default: false },
    jobs: { type: "boolean", default: false },
    reason: { type: "string" },
    stars: { type: "string" },
    "min-score": { type: "string" },
    "spot-check": { type: "string" },
    arbiter: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
const out = createOutput(values.json === true, "fabstir renter");
const [command, arg] = positionals;

function int(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw))
    throw new RenterUsageError(`--${name} expects a whole number, got ${raw}`);
  return Number(raw);
}
function oneOf<T extends string>(
  name: string,
  raw: string | undefined,
  allowed: readonly T[],
): T | undefined {
  if (raw === undefined) return undefined;
  if (!allowed.includes(raw as T))
    throw new RenterUsageError(`--${name} is one of ${allowed.join(", ")}`);
  return raw as T;
}
const short = (a: string) => `${a.slice(0, 8)}…${a.slice(-4)}`;

try {
  if (values.help || !command) {
    console.log(USAGE);
    process.exit(command ? 0 : 1);
  }
  const settings = resolveRenterSettings(values);
  const logger = createLogger({
    name: "fabstir-renter",
    stderr: true,
    level: process.env.FABSTIR_LOG_LEVEL ?? "warn",
  });
  const minScore = int("min-score", values["min-score"]);
  if (minScore !== undefined && minScore > 1000)
    throw new RenterUsageError("--min-score is 0 to 1000");
  const spotRate = values["spot-check"] === undefined ? undefined : Number(values["spot-check"]);
  if (spotRate !== undefined && !(spotRate >= 0 && spotRate <= 1))
    throw new RenterUsageError(
      `--spot-check is a fraction from 0 to 1, got ${values["spot-check"]}`,
    );
  const renter = createRenter({
    ...settings,
    account: renterAccount(settings),
    logger,
    minScore,
    spotCheck:
      spotRate === undefined
        ? undefined
        : { rate: spotRate, arbiterUrl: values.arbiter ?? settings.arbiterUrl },
  });

  switch (command) {
    case "hosts": {
      const hosts = await listHosts(renter, {
        model: values.model,
        sort: oneOf("sort", values.sort, ["price", "score", "recent"] as const),
        token: values.token,
        limit: int("limit", values.limit),
      });
      out.result({ hosts }, () =>
        hosts.length === 0
          ? "no eligible hosts"
          : hosts
              .map(
                (h) =>
                  `${h.address}  score ${h.score}  ${h.pricePerToken === null ? "" : `${h.pricePerToken} wei/token  `}${h.contextLength === null ? "" : `context ${h.contextLength}  `}${h.gpuModel}  ${h.httpUrl}`,
              )
              .join("\n"),
      );
      break;
    }
    case "host": {
      const host = await showHost(renter, arg ?? "");
      out.result(host, () => JSON.stringify(host, null, 2));
      break;
    }
    case "prompt": {
      if (!values.model) throw new RenterUsageError("prompt needs --model");
      let streamed = false;
      if (!values.job) {
        const r = await runSessionPrompt(renter, {
          prompt: arg ?? "",
          model: values.model,
          system: values.system,
          host: values.host as `0x${string}` | undefined,
          token: values.token,
          maxTokens: int("max-tokens", values["max-tokens"]),
          temperature: values.temperature === undefined ? undefined : Number(values.temperature),
          seed: int("seed", values.seed),
          onToken: (t) => {
            if (out.json) return;
            streamed = true;
            process.stdout.write(t);
          },
          onSession: (e) => {
            if (e.type === "host")
              out.progress(
                `· host ${short(e.host.address)} at ${e.host.pricePerToken} wei/token (score ${e.host.score})`,
              );
            else if (e.type === "opened")
              out.progress(
                `· opened session ${e.sessionId}, deposit ${formatUnits18(e.deposit)} locked in escrow`,
              );
            else if (e.type === "failover")
              out.progress(`· host ${short(e.from)} failed (${e.reason}); trying another`);
          },
        });
        out.result(r, () =>
          [
            streamed ? "" : r.text,
            `\n· session ${r.sessionId}: ${r.tokens} tokens, paid ${formatUnits18(r.spent)}; closed by ${r.closed.how === "host" ? "the host (rest refunded)" : "an on-chain request (settles after the host's window)"}`,
          ].join(""),
        );
        break;
      }
      const result = await runPrompt(renter, {
        prompt: arg ?? "",
        model: values.model,
        system: values.system,
        by: oneOf("by", values.by, ["price", "score"] as const),
        host: values.host as `0x${string}` | undefined,
        token: values.token,
        maxTokens: int("max-tokens", values["max-tokens"]),
        temperature: values.temperature === undefined ? undefined : Number(values.temperature),
        seed: int("seed", values.seed),
        accept: !values["no-accept"],
        onToken: (t) => {
          if (out.json) return;
          streamed = true;
          process.stdout.write(t);
        },
        onProgress: (e) => {
          if (e.type === "host")
            out.progress(
              `· host ${short(e.host.address)} at ${e.host.pricePerToken} wei/token (score ${e.host.score})`,
            );
          else if (e.type === "posted")
            out.progress(
              `· posted job ${e.jobId}, deposit ${formatUnits18(e.deposit)} locked in escrow`,
            );
          else if (e.type === "claimed")
            out.progress(`· job ${e.jobId} claimed; streaming the answer`);
          else if (e.type === "completed")
            out.progress(
              `\n· host completed job ${e.jobId} with ${e.tokensUsed} tokens; output ${e.verified ? "matches" : "DOES NOT match"} the answer`,
            );
          else if (e.type === "accepted")
            out.progress(
              `· accepted: host ${formatUnits18(e.payment.host)}, protocol ${formatUnits18(e.payment.treasury)}, stakers ${formatUnits18(e.payment.stakers)}, refunded ${formatUnits18(e.payment.refund)}`,
            );
        },
      });
      out.result(result, () => (streamed ? "" : result.text));
      if (!result.verified) process.exitCode = 2;
      break;
    }
    case "session": {
      const r = await showSession(renter, parseSessionId(arg));
      out.result(r, () =>
        [
          `session ${r.id}: ${r.state.status}`,
          `renter ${r.terms.renter}`,
          `host ${r.terms.host}`,
          `price ${r.terms.pricePerToken} per token, expires ${new Date(Number(r.terms.expiry) * 1000).toISOString()}`,
          `deposit ${formatUnits18(r.state.deposit)}, paid ${formatUnits18(r.state.paid)} for ${r.state.tokens} tokens`,
        ].join("\n"),
      );
      break;
    }
    case "close-session": {
      const r = await closeSessionOnChain(renter, parseSessionId(arg));
      out.result(r, () =>
        r.action === "requestClose"
          ? `asked to close session ${r.id} in ${r.tx}; the host may present its last receipt until the window ends, then anyone settles (npm run renter -- close-session ${r.id})`
          : `settled session ${r.id} in ${r.tx}`,
      );
      break;
    }
    case "job": {
      const job = await showJob(renter, parseJobId(arg));
      out.result(job, () => {
        const j = job.onChain;
        return [
          `job ${j.id}: ${j.status}`,
          `renter ${j.renter}`,
          `host ${j.host}`,
          `price ${j.pricePerToken} per token, max ${j.maxTokens} tokens, used ${j.tokensUsed}`,
          job.completion ? `output hash ${job.completion.outputHash}` : "not completed",
          job.indexed
            ? `indexed: ${(job.indexed as { status?: string }).status}`
            : "not indexed yet",
        ].join("\n");
      });
      break;
    }
    case "accept": {
      const r = await acceptJob(renter, parseJobId(arg));
      out.result(
        r,
        () =>
          `accepted in ${r.tx}: host ${formatUnits18(r.payment.host)}, refunded ${formatUnits18(r.payment.refund)}`,
      );
      break;
    }
    case "dispute": {
      if (!values.reason) throw new RenterUsageError("dispute needs --reason");
      const r = await disputeJob(renter, parseJobId(arg), values.reason);
      out.result(
        r,
        () =>
          `disputed in ${r.tx}; bond ${formatUnits18(r.bond)} locked until the arbiter resolves it or its deadline passes`,
      );
      break;
    }
    case "expire": {
      const id = parseJobId(arg);
      const r = await renter.expire(id);
      out.result({ jobId: id, ...r }, () => `job ${id} taken back and refunded in ${r.tx}`);
      break;
    }
    case "rate": {
      const kind = arg === "job" || arg === "session" ? arg : undefined;
      const raw = positionals[2];
      if (!kind || !raw) throw new RenterUsageError("usage: rate job|session <id> --stars 1..5");
      const id = kind === "job" ? parseJobId(raw) : parseSessionId(raw);
      const stars = int("stars", values.stars);
      if (stars === undefined) throw new RenterUsageError("rate needs --stars 1..5");
      const r = await renter.rate(kind, id, stars);
      out.result(
        { kind, id, stars, ...r },
        () =>
          `rated ${kind} ${id} ${stars}/5 (weight ${r.weight}); host ${r.host ?? "?"} now scores ${r.score ?? "?"}`,
      );
      break;
    }
    case "gateway": {
      const app = createGatewayApp({ renter, logger, mode: values.jobs ? "job" : "session" });
      const server = await startHttpServer(app, {
        host: values.bind ?? "127.0.0.1",
        port: int("port", values.port) ?? 8787,
      });
      out.result(
        { url: server.url, renter: renter.address },
        () => `renter gateway for ${renter.address} on ${server.url}/v1 (Ctrl-C stops it)`,
      );
      // Sessions are settled before the gateway goes: each host closes its own with the last receipt.
      const stop = () =>
        void renter.sessions
          .stop()
          .catch(() => undefined)
          .then(() => server.close())
          .then(() => process.exit(0));
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
      break;
    }
    default:
      throw new RenterUsageError(`unknown command ${command}\n${USAGE}`);
  }
} catch (e) {
  out.fail(e);
}
