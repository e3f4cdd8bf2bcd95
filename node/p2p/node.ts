/**
 * The host node's libp2p node: TCP + noise + yamux, identify, ping and a Fabstir kad-dht
 * (its own protocol id, so it never mixes with the public IPFS DHT), joined through a
 * bootstrap list and, optionally, mDNS on the LAN. The wrapper adds what the Fabstir
 * protocols need around libp2p: dials that reuse an open connection and back off from peers
 * that failed recently, and a graceful stop that lets in-flight inference streams end
 * (up to a grace period, then tells them to stop) before libp2p closes the connections.
 */
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { bootstrap } from "@libp2p/bootstrap";
import { type Identify, identify } from "@libp2p/identify";
import type { Connection, Libp2p, PeerDiscovery, PeerId, PrivateKey } from "@libp2p/interface";
import {
  type KadDHT,
  kadDHT,
  passthroughMapper,
  removePrivateAddressesMapper,
} from "@libp2p/kad-dht";
import { mdns } from "@libp2p/mdns";
import { peerIdFromString } from "@libp2p/peer-id";
import { type Ping, ping } from "@libp2p/ping";
import { tcp } from "@libp2p/tcp";
import { isMultiaddr, type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";
import { type Logger, silentLogger } from "../../protocol/logger.ts";
import { NodeError, StoppedError } from "../errors.ts";
import { PeerUnreachableError } from "./errors.ts";
import { DHT_NAMESPACE, selectFabstirRecord, validateFabstirRecord } from "./records.ts";

/** The Fabstir DHT's protocol id. */
export const DHT_PROTOCOL = "/fabstir/kad/1.0.0";

export interface P2PNodeOptions {
  privateKey: PrivateKey;
  /** Multiaddrs to listen on; default all interfaces, a random TCP port. */
  listen?: string[];
  /** Multiaddrs to announce instead of the listening ones (a public address behind NAT). */
  announce?: string[];
  /** Peers to join the network through (multiaddrs ending in /p2p/<peer id>). */
  bootstrap?: string[];
  /** How long after start the bootstrap peers are dialled; default 100 ms. */
  bootstrapDelayMs?: number;
  /** Find and dial peers on the LAN by multicast DNS; default false. */
  mdns?: boolean;
  /**
   * A LAN or loopback network: peers' private addresses are kept in the DHT (true, the
   * default); false keeps only public addresses, as on the internet.
   */
  lan?: boolean;
  /** Connections above which libp2p prunes; default 300. */
  maxConnections?: number;
  /** Limit of one dial (all of a peer's addresses); default 10 s. */
  dialTimeoutMs?: number;
  /** Inbound connections per second accepted from one host; default 100 on a LAN, else 5. */
  inboundConnectionThreshold?: number;
  /** Inbound connections still upgrading at once; default 64 on a LAN, else 10. */
  maxIncomingPendingConnections?: number;
  /** The first dial backoff after a peer failed; doubles per failure up to the max. */
  dialBackoffMs?: number;
  dialBackoffMaxMs?: number;
  /** DHT query concurrency per path (Kademlia alpha); default kad-dht's (10). */
  dhtAlpha?: number;
  /** Disjoint paths per DHT query (more resist bad peers, cost more); default alpha. */
  dhtDisjointPaths?: number;
  /** How long other nodes keep this node's provider records; default 1 h. */
  providerTtlMs?: number;
  /** How long stop() waits for in-flight streams before telling them to stop; default 10 s. */
  stopGraceMs?: number;
  logger?: Logger;
}

export interface FabstirServices extends Record<string, unknown> {
  identify: Identify;
  ping: Ping;
  dht: KadDHT;
  mdns?: PeerDiscovery;
}

/** A peer to dial: its peer id (known to the peer store) or a multiaddr with /p2p/. */
export type DialTarget = PeerId | Multiaddr | string;

export interface P2PNode {
  readonly libp2p: Libp2p<FabstirServices>;
  readonly peerId: PeerId;
  readonly logger: Logger;
  /** The addresses peers can dial, each ending in /p2p/<peer id>. */
  multiaddrs: () => Multiaddr[];
  /** Signs with the node's identity key (records other peers verify against the peer id). */
  sign: (data: Uint8Array) => Promise<Uint8Array>;
  /** Peers in the DHT routing table. */
  dhtPeers: () => number;
  /** A connection to the peer: an open one if there is one, else a dial (with backoff). */
  dial: (target: DialTarget, options?: { signal?: AbortSignal }) => Promise<Connection>;
  /** True once stop() began: servers refuse new requests. */
  readonly stopping: boolean;
  /** Aborts when stop()'s grace period ends: in-flight work must end now. */
  readonly shutdownSignal: AbortSignal;
  /** Registers in-flight work that stop() waits for; returns it. */
  track: <T>(work: Promise<T>) => Promise<T>;
  /** Runs `fn` when stop() begins (before waiting for in-flight work). */
  onStop: (fn: () => Promise<void> | void) => void;
  stop: (options?: { graceMs?: number }) => Promise<void>;
}

/** After the grace period, how long in-flight work has to wind down before libp2p stops. */
const ABORT_WIND_DOWN_MS = 2_000;

/** Parses a dial target given as a string: a multiaddr (starts with "/") or a peer id. */
export function parseDialTarget(target: DialTarget): PeerId | Multiaddr {
  if (typeof target !== "string") return target;
  return target.startsWith("/") ? multiaddr(target) : peerIdFromString(target);
}

/** The peer id string of a target, when it names one. */
function targetPeer(target: PeerId | Multiaddr): string | undefined {
  if (!isMultiaddr(target)) return target.toString();
  return target.getComponents().findLast((c) => c.name === "p2p")?.value;
}

export async function createP2PNode(options: P2PNodeOptions): Promise<P2PNode> {
  const log = options.logger ?? silentLogger;
  const lan = options.lan ?? true;
  const backoffBase = options.dialBackoffMs ?? 1_000;
  const backoffMax = options.dialBackoffMaxMs ?? 60_000;
  const stopGraceMs = options.stopGraceMs ?? 10_000;

  const services = {
    identify: identify(),
    ping: ping({ maxOutboundStreams: 4, maxInboundStreams: 4 }),
    dht: kadDHT({
      protocol: DHT_PROTOCOL,
      clientMode: false,
      alpha: options.dhtAlpha,
      disjointPaths: options.dhtDisjointPaths,
      peerInfoMapper: lan ? passthroughMapper : removePrivateAddressesMapper,
      validators: { [DHT_NAMESPACE]: validateFabstirRecord },
      selectors: { [DHT_NAMESPACE]: selectFabstirRecord },
      providers: { provideValidity: Math.round((options.providerTtlMs ?? 3_600_000) / 1000) },
      logPrefix: "libp2p:fabstir-dht",
      datastorePrefix: "/fabstir-dht",
      metricsPrefix: "libp2p_fabstir_dht",
    }),
    ...(options.mdns ? { mdns: mdns({ serviceTag: "_fabstir._udp.local" }) } : {}),
  };
  const libp2p = (await createLibp2p({
    privateKey: options.privateKey,
    addresses: {
      listen: options.listen ?? ["/ip4/0.0.0.0/tcp/0"],
      announce: options.announce,
    },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery: options.bootstrap?.length
      ? [bootstrap({ list: options.bootstrap, timeout: options.bootstrapDelayMs ?? 100 })]
      : [],
    connectionManager: {
      maxConnections: options.maxConnections ?? 300,
      dialTimeout: options.dialTimeoutMs ?? 10_000,
      inboundConnectionThreshold: options.inboundConnectionThreshold ?? (lan ? 100 : 5),
      maxIncomingPendingConnections: options.maxIncomingPendingConnections ?? (lan ? 64 : 10),
    },
    services,
  })) as unknown as Libp2p<FabstirServices>;

  // mDNS only announces peers (libp2p 3 no longer dials them): dial each one we hear of.
  libp2p.services.mdns?.addEventListener("peer", (evt) => {
    const peer = evt.detail;
    if (peer.id.equals(libp2p.peerId) || libp2p.getConnections(peer.id).length > 0) return;
    dial(peer.id).catch((e) => log.debug({ err: String(e) }, "mdns dial failed"));
  });

  /** Peers that failed to dial recently: when the next dial may be tried. */
  const backoff = new Map<string, { failures: number; until: number }>();
  const inflight = new Set<Promise<unknown>>();
  const stopHooks: (() => Promise<void> | void)[] = [];
  const shutdown = new AbortController();
  let stopping = false;
  let stopped: Promise<void> | undefined;

  async function dial(target: DialTarget, opts: { signal?: AbortSignal } = {}) {
    if (stopping) throw new StoppedError("the p2p node is stopping");
    const parsed = parseDialTarget(target);
    const peer = targetPeer(parsed);
    if (peer) {
      const open = libp2p.getConnections(peerIdFromString(peer)).find((c) => c.status === "open");
      if (open) return open;
    }
    const key = peer ?? parsed.toString();
    const failed = backoff.get(key);
    if (failed && failed.until > Date.now())
      throw new PeerUnreachableError(
        `${key} failed ${failed.failures} time(s); next dial in ${failed.until - Date.now()} ms`,
      );
    try {
      const connection = await libp2p.dial(parsed, { signal: opts.signal });
      backoff.delete(key);
      return connection;
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      const failures = (failed?.failures ?? 0) + 1;
      const wait = Math.min(backoffMax, backoffBase * 2 ** (failures - 1));
      backoff.set(key, { failures, until: Date.now() + wait });
      log.debug({ peer: key, failures, err: String(e) }, "dial failed");
      if (e instanceof NodeError) throw e;
      throw new PeerUnreachableError(`cannot dial ${key}: ${(e as Error).message}`, { cause: e });
    }
  }

  const settledWithin = async (ms: number) => {
    let timer: NodeJS.Timeout | undefined;
    const all = Promise.allSettled([...inflight]);
    const timeout = new Promise<boolean>((r) => {
      timer = setTimeout(() => r(false), ms);
    });
    const done = await Promise.race([all.then(() => true), timeout]);
    clearTimeout(timer);
    return done;
  };

  const node: P2PNode = {
    libp2p,
    peerId: libp2p.peerId,
    logger: log,
    multiaddrs: () => libp2p.getMultiaddrs(),
    sign: async (data) => options.privateKey.sign(data),
    dhtPeers: () =>
      (libp2p.services.dht as KadDHT & { routingTable?: { size: number } }).routingTable?.size ?? 0,
    dial,
    get stopping() {
      return stopping;
    },
    shutdownSignal: shutdown.signal,
    track(work) {
      inflight.add(work);
      const forget = () => inflight.delete(work);
      work.then(forget, forget);
      return work;
    },
    onStop(fn) {
      stopHooks.push(fn);
    },
    stop(opts = {}) {
      stopped ??= (async () => {
        stopping = true;
        for (const hook of stopHooks) {
          try {
            await hook();
          } catch (e) {
            log.warn({ err: String(e) }, "p2p stop hook failed");
          }
        }
        const grace = opts.graceMs ?? stopGraceMs;
        if (inflight.size > 0 && !(await settledWithin(grace))) {
          log.warn({ streams: inflight.size, grace_ms: grace }, "stopping in-flight p2p streams");
          shutdown.abort(new StoppedError("the node is shutting down"));
          await settledWithin(ABORT_WIND_DOWN_MS);
        }
        shutdown.abort(new StoppedError("the node is shutting down"));
        await libp2p.stop();
        log.info("p2p node stopped");
      })();
      return stopped;
    },
  };
  log.info(
    { peer_id: libp2p.peerId.toString(), addrs: libp2p.getMultiaddrs().map(String) },
    "p2p node started",
  );
  return node;
}
