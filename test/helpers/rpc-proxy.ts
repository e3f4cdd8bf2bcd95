/**
 * A JSON-RPC proxy on 127.0.0.1 in front of the local chain, for tests that need an RPC
 * that is slow, stalls or drops: every request is forwarded unchanged to `target`, after
 * `delayMs`; `hold()` parks new requests until `release()`; `down()` resets every
 * connection (the client sees the RPC vanish) until `up()`. It stands in for a hosted RPC
 * provider having a bad day; the chain behind it is the real Hardhat node.
 */
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface RpcProxy {
  url: string;
  /** Requests forwarded so far. */
  forwarded: () => number;
  setDelay: (ms: number) => void;
  hold: () => void;
  release: () => void;
  down: () => void;
  up: () => void;
  stop: () => Promise<void>;
}

export async function startRpcProxy(
  target: string,
  opts: { delayMs?: number } = {},
): Promise<RpcProxy> {
  let delayMs = opts.delayMs ?? 0;
  let held: (() => void)[] | undefined;
  let isDown = false;
  let forwarded = 0;
  const sockets = new Set<Socket>();

  const server = http.createServer(async (req, res) => {
    if (isDown) return req.socket.destroy();
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    if (held) await new Promise<void>((r) => held?.push(r));
    if (isDown) return req.socket.destroy();
    try {
      forwarded++;
      const upstream = await fetch(target, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: Buffer.concat(chunks),
      });
      const body = Buffer.from(await upstream.arrayBuffer());
      res.writeHead(upstream.status, { "content-type": "application/json" }).end(body);
    } catch {
      req.socket.destroy();
    }
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;

  const release = () => {
    const waiting = held ?? [];
    held = undefined;
    for (const r of waiting) r();
  };
  return {
    url: `http://127.0.0.1:${port}`,
    forwarded: () => forwarded,
    setDelay: (ms) => {
      delayMs = ms;
    },
    hold: () => {
      held ??= [];
    },
    release,
    down: () => {
      isDown = true;
      for (const s of sockets) s.destroy();
    },
    up: () => {
      isDown = false;
    },
    stop: async () => {
      isDown = true;
      release();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
