/**
 * The node's libp2p identity: an Ed25519 private key kept in one file (libp2p's protobuf
 * key encoding), so the peer id survives restarts. The file is created with mode 0600 in a
 * directory created on demand, written atomically (a temp file renamed into place), and a
 * file that exists but does not hold a key is refused rather than silently replaced: the
 * peer id is what other peers and the DHT know this host by.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import type { PrivateKey } from "@libp2p/interface";
import { IdentityFileError } from "./errors.ts";

/** Reads the key in `file`, or creates, saves and returns a new Ed25519 key when there is none. */
export async function loadOrCreateIdentity(file: string): Promise<PrivateKey> {
  let bytes: Buffer | undefined;
  try {
    bytes = await readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT")
      throw new IdentityFileError(file, `cannot read: ${(e as Error).message}`, { cause: e });
  }
  if (bytes) return parseIdentity(file, bytes);

  const key = await generateKeyPair("Ed25519");
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, privateKeyToProtobuf(key), { mode: 0o600, flag: "wx" });
    await chmod(tmp, 0o600); // in case the umask narrowed or the fs ignored the mode
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return key;
}

function parseIdentity(file: string, bytes: Uint8Array): PrivateKey {
  if (bytes.byteLength === 0) throw new IdentityFileError(file, "the identity file is empty");
  let key: PrivateKey;
  try {
    key = privateKeyFromProtobuf(bytes);
  } catch (e) {
    throw new IdentityFileError(file, `not a libp2p private key (${(e as Error).message})`, {
      cause: e,
    });
  }
  if (key.type !== "Ed25519")
    throw new IdentityFileError(file, `a ${key.type} key; this node uses Ed25519 identities`);
  return key;
}
