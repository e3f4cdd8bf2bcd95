/**
 * Finding hosts through the Fabstir DHT. A host advertises each model it serves as a
 * provider record under the model's CID (records.ts), and its Capabilities (prices, current
 * load) as a signed record under `/fabstir/caps/<peer id>`; it refreshes the capability
 * record every `recordIntervalMs` (load changes) and re-provides its models every
 * `reprovideIntervalMs` and whenever the set of models changes. Any node, host or client,
 * looks hosts up with findHosts(chainModelId) and reads their record with capabilitiesOf.
 */
import type { PeerId } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import type { Multiaddr } from "@multiformats/multiaddr";
import type { CID } from "multiformats/cid";
import type { Capabilities } from "../../protocol/wire.ts";
import type { P2PNode } from "./node.ts";
import {
  type CapabilityRecord,
  capabilityRecordKey,
  decodeCapabilityRecord,
  encodeCapabilityRecord,
  modelCid,
} from "./records.ts";

export interface DiscoveryOptions {
  /** What this node serves; omit on a node that only looks hosts up. */
  capabilities?: () => Capabilities;
  /** How often the capability record is republished; default 60 s. */
  recordIntervalMs?: number;
  /** How often every served model is provided again; default 20 min. */
  reprovideIntervalMs?: number;
  /** Limit of one publish round (provides and the record put); default 30 s. */
  publishTimeoutMs?: number;
}

export interface HostInfo {
  peerId: PeerId;
  multiaddrs: Multiaddr[];
}

export interface FindHostsOptions {
  /** Gives up (returning what was found) after this long; default 5 s. */
  timeoutMs?: number;
  /** Stops at this many hosts; default 20. */
  limit?: number;
  signal?: AbortSignal;
  /** Lists this node too when it provides the model; default false. */
  includeSelf?: boolean;
  /**
   * Once a host is known, the lookup ends after this many DHT responses in a row bring no
   * new host (default 3); Infinity walks the whole query (slower, may find a host that
   * reached only some of the peers near the key).
   */
  settleResponses?: number;
}

export interface Discovery {
  /** Publishes now, then on the intervals (no-op without `capabilities`). */
  start: () => Promise<void>;
  /** Provides the models not provided recently and puts a fresh capability record. */
  publish: (options?: { reprovideAll?: boolean }) => Promise<void>;
  /** Hosts providing the model (by its chain model id), in the order the DHT finds them. */
  findHosts: (chainModelId: string, options?: FindHostsOptions) => Promise<HostInfo[]>;
  /** The peer's newest valid capability record in the DHT, if any. */
  capabilitiesOf: (
    peer: PeerId | string,
    options?: { timeoutMs?: number; signal?: AbortSignal },
  ) => Promise<CapabilityRecord | undefined>;
  stop: () => Promise<void>;
}

const timeoutSignal = (ms: number, signal?: AbortSignal) =>
  signal ? AbortSignal.any([AbortSignal.timeout(ms), signal]) : AbortSignal.timeout(ms);

export function createDiscovery(node: P2PNode, options: DiscoveryOptions = {}): Discovery {
  const log = node.logger.child({ component: "p2p-discovery" });
  const dht = node.libp2p.services.dht;
  const recordIntervalMs = options.recordIntervalMs ?? 60_000;
  const reprovideIntervalMs = options.reprovideIntervalMs ?? 20 * 60_000;
  const publishTimeoutMs = options.publishTimeoutMs ?? 30_000;
  /** Chain model id → when it was last provided, and its CID. */
  const provided = new Map<string, { at: number; cid: CID }>();
  const stopController = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let publishing: Promise<void> | undefined;

  async function provideAll(caps: Capabilities, reprovideAll: boolean, signal: AbortSignal) {
    const served = new Set(caps.models.map((m) => m.chainModelId.toLowerCase()));
    for (const [id, { cid }] of provided)
      if (!served.has(id)) {
        provided.delete(id);
        await dht.cancelReprovide(cid).catch(() => {});
      }
    const due = [...served].filter((id) => {
      const last = provided.get(id)?.at;
      return reprovideAll || last === undefined || Date.now() - last >= reprovideIntervalMs;
    });
    await Promise.all(
      due.map(async (id) => {
        const cid = modelCid(id);
        await node.libp2p.contentRouting.provide(cid, { signal });
        provided.set(id, { at: Date.now(), cid });
      }),
    );
  }

  async function putRecord(caps: Capabilities, signal: AbortSignal) {
    const value = await encodeCapabilityRecord(node.sign, {
      peer: node.peerId.toString(),
      issuedAt: Date.now(),
      capabilities: caps,
    });
    for await (const _ of dht.put(capabilityRecordKey(node.peerId), value, { signal })) {
      // drain the query's progress events
    }
  }

  async function publishOnce(reprovideAll: boolean) {
    if (!options.capabilities) return;
    const caps = options.capabilities();
    const signal = timeoutSignal(publishTimeoutMs, stopController.signal);
    const started = performance.now();
    await Promise.all([provideAll(caps, reprovideAll, signal), putRecord(caps, signal)]);
    log.debug(
      { models: caps.models.length, ms: Math.round(performance.now() - started) },
      "published to the DHT",
    );
  }

  function publish(opts: { reprovideAll?: boolean } = {}): Promise<void> {
    publishing ??= publishOnce(opts.reprovideAll ?? false).finally(() => {
      publishing = undefined;
    });
    return publishing;
  }

  function schedule(ms: number) {
    if (stopController.signal.aborted) return;
    timer = setTimeout(() => {
      publish().then(
        () => schedule(recordIntervalMs),
        (e) => {
          log.warn({ err: String(e) }, "DHT publish failed; retrying");
          schedule(Math.min(recordIntervalMs, 5_000));
        },
      );
    }, ms);
    timer.unref();
  }

  const discovery: Discovery = {
    async start() {
      if (!options.capabilities) return;
      node.onStop(() => discovery.stop());
      try {
        await publish();
        schedule(recordIntervalMs);
      } catch (e) {
        log.warn({ err: String(e) }, "first DHT publish failed; retrying");
        schedule(Math.min(recordIntervalMs, 5_000));
      }
    },
    publish,

    async findHosts(chainModelId, opts = {}) {
      const limit = opts.limit ?? 20;
      const settle = opts.settleResponses ?? 3;
      const signal = timeoutSignal(opts.timeoutMs ?? 5_000, opts.signal);
      const hosts = new Map<string, HostInfo>();
      const self = node.peerId.toString();
      let quiet = 0;
      try {
        for await (const event of dht.findProviders(modelCid(chainModelId), { signal })) {
          if (event.name === "PEER_RESPONSE" && event.from.toString() !== self) {
            // Provider records sit on the peers closest to the key, so once hosts turn up,
            // further responses mostly repeat them: stop after `settle` that add nothing.
            const known = (id: string) => hosts.has(id) || id === self;
            quiet = event.providers.some((p) => !known(p.id.toString())) ? 0 : quiet + 1;
            if (hosts.size > 0 && quiet >= settle) break;
          }
          if (event.name !== "PROVIDER") continue;
          for (const p of event.providers) {
            if (!opts.includeSelf && p.id.toString() === self) continue;
            const key = p.id.toString();
            const host = hosts.get(key) ?? { peerId: p.id, multiaddrs: [] };
            hosts.set(key, host);
            for (const a of p.multiaddrs)
              if (!host.multiaddrs.some((k) => k.equals(a))) host.multiaddrs.push(a);
          }
          if (hosts.size >= limit) break;
        }
      } catch (e) {
        if (opts.signal?.aborted) throw e;
        if (!signal.aborted) throw e;
        // the deadline passed: return what was found
      }
      for (const host of hosts.values())
        if (host.multiaddrs.length === 0) {
          const stored = await node.libp2p.peerStore.get(host.peerId).catch(() => undefined);
          host.multiaddrs = stored?.addresses.map((a) => a.multiaddr) ?? [];
        }
      return [...hosts.values()].slice(0, limit);
    },

    async capabilitiesOf(peer, opts = {}) {
      const peerId = typeof peer === "string" ? peerIdFromString(peer) : peer;
      const key = capabilityRecordKey(peerId);
      const signal = timeoutSignal(opts.timeoutMs ?? 5_000, opts.signal);
      let best: CapabilityRecord | undefined;
      try {
        for await (const event of dht.get(key, { signal })) {
          if (event.name !== "VALUE") continue;
          const record = await decodeCapabilityRecord(key, event.value).catch(() => undefined);
          if (record && (!best || record.issuedAt > best.issuedAt)) best = record;
        }
      } catch (e) {
        if (opts.signal?.aborted) throw e;
        if (!best) log.debug({ peer: peerId.toString(), err: String(e) }, "no capability record");
      }
      return best;
    },

    async stop() {
      stopController.abort();
      clearTimeout(timer);
      await publishing?.catch(() => {});
    },
  };
  return discovery;
}
