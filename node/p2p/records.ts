/**
 * What hosts put in the DHT: a provider record per served model, under a CID derived from
 * the model's chain id, and a signed capability record (prices, current load) under
 * `/fabstir/caps/<peer id>`. The record's validator (installed in every node's kad-dht for
 * the `fabstir` key namespace) accepts only a record signed by the peer its key names,
 * issued not in the future and not older than CAPABILITY_RECORD_MAX_AGE_MS; the selector
 * picks the newest of competing records.
 */
import { createHash } from "node:crypto";
import type { PeerId } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import * as Digest from "multiformats/hashes/digest";
import { sha256 } from "multiformats/hashes/sha2";
import { z } from "zod";
import { capabilitiesSchema, MAX_CAPABILITIES_BYTES } from "../../protocol/p2p.ts";
import type { Capabilities } from "../../protocol/wire.ts";

/** The DHT key namespace of Fabstir records (the first path segment of the key). */
export const DHT_NAMESPACE = "fabstir";
const CAPS_PREFIX = `/${DHT_NAMESPACE}/caps/`;
/** Records older than this are invalid everywhere (hosts refresh theirs much more often). */
export const CAPABILITY_RECORD_MAX_AGE_MS = 60 * 60 * 1000;
/** Tolerated clock skew for a record's issue time. */
const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;
const SIGNATURE_DOMAIN = "fabstir-capability-record/1:";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The provider-record CID of a model: sha256 of `/fabstir/model/1/<chain model id>`, raw codec. */
export function modelCid(chainModelId: string): CID {
  const digest = createHash("sha256")
    .update(`/fabstir/model/1/${chainModelId.toLowerCase()}`)
    .digest();
  return CID.createV1(raw.code, Digest.create(sha256.code, digest));
}

/** The DHT key of a peer's capability record. */
export function capabilityRecordKey(peer: PeerId | string): Uint8Array {
  return encoder.encode(`${CAPS_PREFIX}${peer.toString()}`);
}

export interface CapabilityRecord {
  /** The peer id that signed the record (string form). */
  peer: string;
  /** When the host issued it, ms since the epoch. */
  issuedAt: number;
  capabilities: Capabilities;
}

const envelopeSchema = z.object({ payload: z.string(), signature: z.string() });
const payloadSchema = z.object({
  peer: z.string(),
  issuedAt: z.number().int().positive(),
  capabilities: capabilitiesSchema,
});

/** The record value: `{payload, signature}`, the payload being the JSON of the record; `sign` is the node key's. */
export async function encodeCapabilityRecord(
  sign: (data: Uint8Array) => Uint8Array | Promise<Uint8Array>,
  record: CapabilityRecord,
): Promise<Uint8Array> {
  const payload = JSON.stringify(record);
  const signature = await sign(encoder.encode(SIGNATURE_DOMAIN + payload));
  const value = encoder.encode(
    JSON.stringify({ payload, signature: Buffer.from(signature).toString("base64") }),
  );
  if (value.byteLength > MAX_CAPABILITIES_BYTES)
    throw new RangeError(`capability record of ${value.byteLength} bytes is too large`);
  return value;
}

/** Parses and checks a record against its key; throws when it is not valid. */
export async function decodeCapabilityRecord(
  key: Uint8Array,
  value: Uint8Array,
  now = Date.now(),
): Promise<CapabilityRecord> {
  const keyString = decoder.decode(key);
  if (!keyString.startsWith(CAPS_PREFIX)) throw new Error(`unknown fabstir record key`);
  if (value.byteLength > MAX_CAPABILITIES_BYTES) throw new Error("capability record too large");
  const envelope = envelopeSchema.parse(JSON.parse(decoder.decode(value)));
  const record = payloadSchema.parse(JSON.parse(envelope.payload));
  const peer = keyString.slice(CAPS_PREFIX.length);
  if (record.peer !== peer) throw new Error("the record names another peer than its key");
  const publicKey = peerIdFromString(peer).publicKey;
  if (!publicKey) throw new Error("the peer id does not embed its public key");
  const signed = encoder.encode(SIGNATURE_DOMAIN + envelope.payload);
  if (!(await publicKey.verify(signed, Buffer.from(envelope.signature, "base64"))))
    throw new Error("bad signature on the capability record");
  if (record.issuedAt > now + MAX_CLOCK_SKEW_MS) throw new Error("record issued in the future");
  if (record.issuedAt < now - CAPABILITY_RECORD_MAX_AGE_MS) throw new Error("record expired");
  return record as CapabilityRecord;
}

/** kad-dht validator for the `fabstir` namespace. */
export async function validateFabstirRecord(key: Uint8Array, value: Uint8Array): Promise<void> {
  await decodeCapabilityRecord(key, value);
}

/** kad-dht selector for the `fabstir` namespace: the newest valid record. */
export async function selectFabstirRecord(key: Uint8Array, values: Uint8Array[]): Promise<number> {
  let best = 0;
  let bestIssued = Number.NEGATIVE_INFINITY;
  for (const [i, value] of values.entries()) {
    const issued = await decodeCapabilityRecord(key, value).then(
      (r) => r.issuedAt,
      () => Number.NEGATIVE_INFINITY,
    );
    if (issued > bestIssued) {
      best = i;
      bestIssued = issued;
    }
  }
  return best;
}
