/**
 * Persistence for the local chain. Hardhat's node keeps its state in memory only, so the
 * local marketplace records the chain instead: a JSON-lines file whose first line is the
 * genesis time and each further line one block (number, timestamp, its signed transactions
 * as raw bytes). Starting again replays the file onto a fresh node started with the same
 * genesis time: each block's transactions are sent again with automine off and mined at the
 * recorded timestamp, so every contract, balance, job and block number comes back as it was.
 * Only signed transactions can replay; impersonated ones (a test-only trick) cannot.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import {
  createPublicClient,
  createTestClient,
  type Hex,
  http,
  keccak256,
  type PublicClient,
  serializeTransaction,
  type Transaction,
} from "viem";
import { hardhat } from "viem/chains";
import { FabstirError } from "../protocol/errors.ts";

interface Header {
  genesisTime: number;
}
interface BlockLine {
  number: number;
  timestamp: number;
  txs: Hex[];
}

export class ChainLogError extends FabstirError {
  override readonly code = "chain_log_invalid";
}

/** The signed bytes of a mined transaction, checked against its hash. */
export function rawTransaction(tx: Transaction): Hex {
  const common = {
    chainId: tx.chainId ?? hardhat.id,
    nonce: tx.nonce,
    gas: tx.gas,
    to: tx.to ?? undefined,
    value: tx.value,
    data: tx.input,
  };
  let raw: Hex;
  if (tx.type === "eip1559")
    raw = serializeTransaction(
      {
        ...common,
        type: "eip1559",
        maxFeePerGas: tx.maxFeePerGas,
        maxPriorityFeePerGas: tx.maxPriorityFeePerGas,
        accessList: tx.accessList,
      },
      { r: tx.r, s: tx.s, yParity: tx.yParity },
    );
  else if (tx.type === "eip2930")
    raw = serializeTransaction(
      { ...common, type: "eip2930", gasPrice: tx.gasPrice, accessList: tx.accessList },
      { r: tx.r, s: tx.s, yParity: tx.yParity },
    );
  else if (tx.type === "legacy")
    raw = serializeTransaction(
      { ...common, type: "legacy", gasPrice: tx.gasPrice },
      { r: tx.r, s: tx.s, v: tx.v },
    );
  else throw new ChainLogError(`cannot record a ${tx.type} transaction (${tx.hash})`);
  if (keccak256(raw) !== tx.hash)
    throw new ChainLogError(`transaction ${tx.hash} is not a signed transaction; it cannot replay`);
  return raw;
}

export function readGenesisTime(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const first = readFileSync(file, "utf8").split("\n", 1)[0];
  return first ? (JSON.parse(first) as Header).genesisTime : undefined;
}

function readBlocks(file: string): BlockLine[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .slice(1)
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as BlockLine];
      } catch {
        return []; // a line cut short by a kill: the blocks before it still replay
      }
    });
}

export interface ChainRecorder {
  /** Records blocks up to the chain's head now. */
  flush: () => Promise<void>;
  stop: () => Promise<void>;
}

/** Appends every new block of the chain at `url` to `file` (created with its genesis time). */
export async function startChainRecorder(
  url: string,
  file: string,
  opts: { intervalMs?: number; onError?: (e: unknown) => void } = {},
): Promise<ChainRecorder> {
  const client = createPublicClient({ chain: hardhat, transport: http(url) }) as PublicClient;
  if (!existsSync(file)) {
    const genesis = await client.getBlock({ blockNumber: 0n });
    writeFileSync(file, `${JSON.stringify({ genesisTime: Number(genesis.timestamp) })}\n`);
  }
  const recorded = readBlocks(file);
  let next = (recorded.at(-1)?.number ?? 0) + 1;
  let running: Promise<void> = Promise.resolve();
  const record = async () => {
    const head = Number(await client.getBlockNumber({ cacheTime: 0 }));
    for (; next <= head; next++) {
      const block = await client.getBlock({ blockNumber: BigInt(next), includeTransactions: true });
      const line: BlockLine = {
        number: next,
        timestamp: Number(block.timestamp),
        txs: block.transactions.map(rawTransaction),
      };
      appendFileSync(file, `${JSON.stringify(line)}\n`);
    }
  };
  const flush = () => {
    running = running.then(record, record);
    return running;
  };
  const timer = setInterval(() => {
    flush().catch((e) => opts.onError?.(e));
  }, opts.intervalMs ?? 250);
  return {
    flush,
    stop: async () => {
      clearInterval(timer);
      await flush().catch((e) => opts.onError?.(e));
    },
  };
}

/** Replays `file` onto the fresh node at `url` (started with the file's genesis time). */
export async function replayChainLog(
  url: string,
  file: string,
  onProgress?: (done: number, total: number) => void,
): Promise<number> {
  const blocks = readBlocks(file);
  const client = createPublicClient({ chain: hardhat, transport: http(url) }) as PublicClient;
  const test = createTestClient({ chain: hardhat, mode: "hardhat", transport: http(url) });
  if ((await client.getBlockNumber()) !== 0n)
    throw new ChainLogError("the chain to replay onto is not fresh");
  await test.setAutomine(false);
  try {
    for (const [i, b] of blocks.entries()) {
      for (const raw of b.txs)
        await client.request({ method: "eth_sendRawTransaction", params: [raw] });
      await test.setNextBlockTimestamp({ timestamp: BigInt(b.timestamp) });
      await test.mine({ blocks: 1 });
      const mined = await client.getBlock();
      if (Number(mined.number) !== b.number || mined.transactions.length !== b.txs.length)
        throw new ChainLogError(
          `block ${b.number} did not replay (${mined.transactions.length} of ${b.txs.length} transactions)`,
        );
      if (i % 50 === 0) onProgress?.(i + 1, blocks.length);
    }
  } finally {
    await test.setAutomine(true);
  }
  // The node's clock resumes from the last replayed block: move it to now.
  const last = await client.getBlock();
  const lag = Math.floor(Date.now() / 1000) - Number(last.timestamp);
  if (lag > 0) await test.increaseTime({ seconds: lag });
  return blocks.length;
}
