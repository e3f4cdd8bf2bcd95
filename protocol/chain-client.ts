/**
 * The node's link to the chain (viem): reads with retries, and transactions that survive
 * an RPC that drops requests or goes away for a while. Each transaction is simulated first
 * (a revert is a clear ContractRevertError naming the contract error, and costs no nonce),
 * then signed locally with a nonce from the node's own counter, so concurrent
 * transactions (a claim while a completion is in flight) never collide; the signed bytes
 * are kept, so a send whose answer was lost is re-sent as the same transaction, which
 * cannot execute twice. "nonce too low" resynchronizes the counter from the chain.
 */
import {
  type Abi,
  type Account,
  type Address,
  BaseError,
  type Chain,
  type ContractFunctionArgs,
  type ContractFunctionName,
  type ContractFunctionParameters,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  defineChain,
  ExecutionRevertedError,
  encodeFunctionData,
  type Hex,
  HttpRequestError,
  http,
  keccak256,
  type PrivateKeyAccount,
  type PublicClient,
  type ReadContractParameters,
  type ReadContractReturnType,
  TimeoutError,
  type TransactionReceipt,
  type WalletClient,
} from "viem";
import { ChainError, FabstirError } from "./errors.ts";
import { type Logger, silentLogger } from "./logger.ts";

/** A transaction's simulation reverted: `errorName` is the contract's custom error. */
export class ContractRevertError extends FabstirError {
  override readonly code = "contract_revert";
  readonly errorName: string | undefined;
  readonly args: readonly unknown[];
  constructor(
    what: string,
    errorName: string | undefined,
    args: readonly unknown[],
    cause: unknown,
  ) {
    super(`${what} reverted${errorName ? ` with ${errorName}` : ""}`, { cause });
    this.errorName = errorName;
    this.args = args;
  }
}

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 8, baseDelayMs: 200, maxDelayMs: 5_000 };

export interface ChainClientOptions {
  rpcUrl: string;
  chainId: number;
  account: PrivateKeyAccount;
  logger?: Logger;
  retry?: Partial<RetryPolicy>;
  /** Per-request RPC timeout. */
  timeoutMs?: number;
  pollingIntervalMs?: number;
}

type Writable = "nonpayable" | "payable";
type Readable = "pure" | "view";

/**
 * One transaction: a contract function that changes state, with its arguments, typed from the
 * contract's `as const` ABI as viem's writeContract is (a wrong name or argument fails `tsc`).
 */
export type ContractWrite<
  abi extends Abi,
  functionName extends ContractFunctionName<abi, Writable>,
  args extends ContractFunctionArgs<abi, Writable, functionName>,
> = ContractFunctionParameters<abi, Writable, functionName, args> & {
  address: Address;
  value?: bigint;
};

export interface ChainClient {
  readonly chain: Chain;
  readonly account: PrivateKeyAccount;
  readonly public: PublicClient;
  /** Calls a view function (typed from the ABI, as viem's readContract), retrying transport errors. */
  read: <
    const abi extends Abi,
    functionName extends ContractFunctionName<abi, Readable>,
    const args extends ContractFunctionArgs<abi, Readable, functionName>,
  >(
    what: string,
    call: ReadContractParameters<abi, functionName, args>,
  ) => Promise<ReadContractReturnType<abi, functionName, args>>;
  /** Any other RPC work (blocks, logs, balances), retrying transport errors. */
  query: <T>(what: string, fn: (client: PublicClient) => Promise<T>) => Promise<T>;
  /** Simulates, signs, sends and waits for one transaction; throws on revert. */
  send: <
    const abi extends Abi,
    functionName extends ContractFunctionName<abi, Writable>,
    const args extends ContractFunctionArgs<abi, Writable, functionName>,
  >(
    what: string,
    call: ContractWrite<abi, functionName, args>,
  ) => Promise<TransactionReceipt>;
  /** Transactions signed and not yet mined. */
  pending: () => number;
}

/** The untyped view of a call the client works with inside, once the caller's types checked it. */
interface EncodedCall {
  address: Address;
  abi: Abi;
  functionName: string;
  args?: readonly unknown[];
  value?: bigint;
}

/** Whether an error is the network's or the RPC server's (worth a retry), not the contract's. */
export function isTransient(e: unknown): boolean {
  if (e instanceof ContractRevertError) return false;
  if (e instanceof HttpRequestError || e instanceof TimeoutError) return true;
  if (e instanceof BaseError) {
    if (e.walk((x) => x instanceof ContractFunctionRevertedError)) return false;
    if (e.walk((x) => x instanceof HttpRequestError || x instanceof TimeoutError)) return true;
    const text = `${e.shortMessage} ${e.details ?? ""}`;
    return /fetch failed|ECONNREFUSED|ECONNRESET|socket|timed? ?out|429|502|503|504|internal error/i.test(
      text,
    );
  }
  const text = String((e as Error)?.message ?? e);
  return /fetch failed|ECONNREFUSED|ECONNRESET|socket hang up|network/i.test(text);
}

function revertOf(what: string, e: unknown): ContractRevertError | undefined {
  if (!(e instanceof BaseError)) return undefined;
  const revert = e.walk((x) => x instanceof ContractFunctionRevertedError);
  if (revert instanceof ContractFunctionRevertedError)
    return new ContractRevertError(what, revert.data?.errorName, revert.data?.args ?? [], e);
  // A revert found by the gas estimate (the state changed since the simulation).
  if (e.walk((x) => x instanceof ExecutionRevertedError)) {
    const name = /custom error '([A-Za-z0-9_]+)\(/.exec(e.message)?.[1];
    return new ContractRevertError(what, name, [], e);
  }
  return undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createChainClient(options: ChainClientOptions): ChainClient {
  const log = (options.logger ?? silentLogger).child({ component: "chain" });
  const policy = { ...DEFAULT_RETRY, ...options.retry };
  const chain = defineChain({
    id: options.chainId,
    name: `chain-${options.chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [options.rpcUrl] } },
  });
  // viem's own retries are off: this module retries whole operations with its own backoff.
  const transport = http(options.rpcUrl, { retryCount: 0, timeout: options.timeoutMs ?? 10_000 });
  const publicClient = createPublicClient({
    chain,
    transport,
    pollingInterval: options.pollingIntervalMs ?? 500,
  }) as PublicClient;
  const wallet: WalletClient = createWalletClient({ chain, transport, account: options.account });
  const account: Account = options.account;
  let nextNonce: number | undefined;
  let nonceQueue: Promise<unknown> = Promise.resolve();
  let inFlight = 0;

  async function retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let delay = policy.baseDelayMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!isTransient(e) || attempt >= policy.attempts) {
          if (isTransient(e))
            throw new ChainError(`${what}: the RPC failed ${attempt} times`, { cause: e });
          throw e;
        }
        log.warn(
          { what, attempt, delay_ms: delay, err: (e as Error).message?.split("\n")[0] },
          "RPC error, retrying",
        );
        await sleep(delay);
        delay = Math.min(delay * 2, policy.maxDelayMs);
      }
    }
  }

  /** Hands out nonces one at a time (a promise chain is the lock). */
  function takeNonce(): Promise<number> {
    const next = nonceQueue.then(async () => {
      if (nextNonce === undefined)
        nextNonce = await retrying("nonce", () =>
          publicClient.getTransactionCount({ address: account.address, blockTag: "pending" }),
        );
      return nextNonce++;
    });
    nonceQueue = next.catch(() => undefined);
    return next;
  }

  async function send(what: string, call: EncodedCall): Promise<TransactionReceipt> {
    const data = encodeFunctionData({
      abi: call.abi,
      functionName: call.functionName,
      args: call.args ?? [],
    });
    for (let round = 1; ; round++) {
      // Simulation and gas estimate first: a revert costs nothing, names the contract's
      // error and takes no nonce.
      const gas = await retrying(`${what} (simulate)`, async () => {
        try {
          await publicClient.simulateContract({
            address: call.address,
            abi: call.abi,
            functionName: call.functionName,
            args: call.args ?? [],
            value: call.value,
            account,
          });
          return await publicClient.estimateGas({
            account,
            to: call.address,
            data,
            value: call.value,
          });
        } catch (e) {
          throw revertOf(what, e) ?? e;
        }
      });
      const nonce = await takeNonce();
      inFlight++;
      let sent = false;
      try {
        const prepared = await retrying(`${what} (prepare)`, () =>
          wallet.prepareTransactionRequest({
            to: call.address,
            data,
            value: call.value,
            gas: (gas * 12n) / 10n,
            account,
            chain,
            nonce,
          } as Parameters<WalletClient["prepareTransactionRequest"]>[0]),
        );
        const raw = await wallet.signTransaction(
          prepared as Parameters<WalletClient["signTransaction"]>[0],
        );
        const hash = keccak256(raw);
        let stale = false;
        let gap = false;
        await retrying(`${what} (send)`, async () => {
          try {
            await publicClient.sendRawTransaction({ serializedTransaction: raw });
          } catch (e) {
            const text =
              e instanceof BaseError ? `${e.shortMessage} ${e.details ?? ""}` : String(e);
            // The same bytes reached the node before: just wait for them.
            if (/already known|known transaction|already imported/i.test(text)) return;
            if (/nonce too low|nonce has already been used/i.test(text)) {
              stale = true;
              return;
            }
            if (/nonce too high/i.test(text)) {
              gap = true;
              return;
            }
            throw e;
          }
        });
        sent = !gap;
        const receipt = gap ? undefined : await waitForReceipt(what, hash, stale);
        if (receipt) {
          if (receipt.status !== "success")
            throw new ContractRevertError(
              what,
              undefined,
              [],
              new Error(`transaction ${hash} reverted`),
            );
          log.debug({ what, tx: hash, block: Number(receipt.blockNumber) }, "transaction mined");
          return receipt;
        }
        // The nonce went to another transaction, or one before it was never sent.
        log.warn({ what, nonce, round }, "nonce out of step; resynchronizing");
        nextNonce = undefined;
        if (round >= 5) throw new ChainError(`${what}: could not get a nonce after ${round} tries`);
      } catch (e) {
        // A nonce taken but never used would stall every later transaction: resynchronize.
        if (!sent) nextNonce = undefined;
        throw e;
      } finally {
        inFlight--;
      }
    }
  }

  /** The receipt of `hash`; undefined when the nonce went to another transaction. */
  async function waitForReceipt(what: string, hash: Hex, stale: boolean) {
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const receipt = await retrying(`${what} (receipt)`, () =>
        publicClient.getTransactionReceipt({ hash }).catch((e) => {
          if (e instanceof BaseError && /could not be found|not found/i.test(e.shortMessage))
            return undefined;
          throw e;
        }),
      );
      if (receipt) return receipt;
      if (stale) {
        // Our bytes were refused as stale: if the chain does not know them, they never ran.
        const tx = await retrying(`${what} (lookup)`, () =>
          publicClient.getTransaction({ hash }).catch(() => undefined),
        );
        if (!tx) return undefined;
      }
      await sleep(options.pollingIntervalMs ?? 500);
    }
    throw new ChainError(`${what}: transaction ${hash} not mined within 120 s`);
  }

  return {
    chain,
    account: options.account,
    public: publicClient,
    read: (what, call) => retrying(what, () => publicClient.readContract(call)),
    query: (what, fn) => retrying(what, () => fn(publicClient)),
    // The caller's call was checked against its ABI by the signature above; inside, the
    // client only encodes it.
    send: (what, call) => send(what, call as EncodedCall),
    pending: () => inFlight,
  };
}
