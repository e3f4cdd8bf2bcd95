/**
 * The host's key: a raw private key from the environment (FABSTIR_HOST_PRIVATE_KEY), or an
 * Ethereum V3 keystore file (the JSON that geth, Foundry's `cast wallet` and MetaMask
 * export: scrypt or pbkdf2, AES-128-CTR, keccak MAC) unlocked with a password from the
 * environment (FABSTIR_KEYSTORE_PASSWORD). The key never goes to the config file or logs.
 */
import { createCipheriv, createDecipheriv, pbkdf2Sync, randomBytes, scryptSync } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import { bytesToHex, hexToBytes, keccak256, type PrivateKeyAccount } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { FabstirError } from "./errors.ts";

export class KeyError extends FabstirError {
  override readonly code = "key_error";
}

interface KeystoreV3 {
  version: 3;
  address?: string;
  crypto: {
    cipher: string;
    cipherparams: { iv: string };
    ciphertext: string;
    kdf: "scrypt" | "pbkdf2";
    kdfparams: {
      dklen: number;
      salt: string;
      n?: number;
      r?: number;
      p?: number;
      c?: number;
      prf?: string;
    };
    mac: string;
  };
}

function derive(password: string, c: KeystoreV3["crypto"]): Buffer {
  const k = c.kdfparams;
  const salt = Buffer.from(k.salt, "hex");
  if (c.kdf === "scrypt") {
    const n = k.n ?? 0;
    return scryptSync(password, salt, k.dklen, {
      N: n,
      r: k.r,
      p: k.p,
      maxmem: 128 * (k.r ?? 8) * n * 2 + 1024 * 1024,
    });
  }
  if (c.kdf === "pbkdf2" && k.prf === "hmac-sha256")
    return pbkdf2Sync(password, salt, k.c ?? 0, k.dklen, "sha256");
  throw new KeyError(`unsupported keystore kdf ${c.kdf}`);
}

function mac(key: Buffer, ciphertext: Buffer): string {
  return keccak256(Buffer.concat([key.subarray(16, 32), ciphertext])).slice(2);
}

export function decryptKeystore(json: string, password: string): `0x${string}` {
  let ks: KeystoreV3;
  try {
    ks = JSON.parse(json) as KeystoreV3;
  } catch {
    throw new KeyError("the keystore file is not JSON");
  }
  const c = ks.crypto ?? (ks as unknown as { Crypto: KeystoreV3["crypto"] }).Crypto;
  if (ks.version !== 3 || !c) throw new KeyError("not a version 3 keystore");
  if (c.cipher !== "aes-128-ctr") throw new KeyError(`unsupported keystore cipher ${c.cipher}`);
  const key = derive(password, c);
  const ciphertext = Buffer.from(c.ciphertext, "hex");
  if (mac(key, ciphertext) !== c.mac.toLowerCase().replace(/^0x/, ""))
    throw new KeyError("wrong keystore password (the MAC does not match)");
  const decipher = createDecipheriv(
    "aes-128-ctr",
    key.subarray(0, 16),
    Buffer.from(c.cipherparams.iv, "hex"),
  );
  const pk = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  return bytesToHex(pk);
}

/** Encrypts a private key as a V3 keystore (scrypt n=2^17 by default, as geth does). */
export function encryptKeystore(
  privateKey: `0x${string}`,
  password: string,
  opts: { n?: number } = {},
): string {
  const salt = randomBytes(32);
  const iv = randomBytes(16);
  const kdfparams = { dklen: 32, n: opts.n ?? 1 << 17, r: 8, p: 1, salt: salt.toString("hex") };
  const c = {
    cipher: "aes-128-ctr",
    cipherparams: { iv: iv.toString("hex") },
    ciphertext: "",
    kdf: "scrypt" as const,
    kdfparams,
    mac: "",
  };
  const key = derive(password, c);
  const cipher = createCipheriv("aes-128-ctr", key.subarray(0, 16), iv);
  const ciphertext = Buffer.concat([cipher.update(hexToBytes(privateKey)), cipher.final()]);
  c.ciphertext = ciphertext.toString("hex");
  c.mac = mac(key, ciphertext);
  const address = privateKeyToAccount(privateKey).address.slice(2).toLowerCase();
  return JSON.stringify({ version: 3, id: crypto.randomUUID(), address, crypto: c });
}

export async function writeKeystore(
  file: string,
  privateKey: `0x${string}`,
  password: string,
  n?: number,
) {
  const tmp = `${file}.tmp`;
  await writeFile(tmp, encryptKeystore(privateKey, password, { n }), { mode: 0o600 });
  await rename(tmp, file);
}

/** The host account: FABSTIR_HOST_PRIVATE_KEY, else the keystore file with FABSTIR_KEYSTORE_PASSWORD. */
export async function loadHostAccount(
  opts: { keystore?: string },
  env: NodeJS.ProcessEnv = process.env,
): Promise<PrivateKeyAccount> {
  const raw = env.FABSTIR_HOST_PRIVATE_KEY;
  if (raw) {
    if (!/^0x[0-9a-fA-F]{64}$/.test(raw))
      throw new KeyError("FABSTIR_HOST_PRIVATE_KEY must be 0x followed by 64 hex digits");
    return privateKeyToAccount(raw as `0x${string}`);
  }
  if (!opts.keystore)
    throw new KeyError("no host key: set FABSTIR_HOST_PRIVATE_KEY or chain.keystore in the config");
  const password = env.FABSTIR_KEYSTORE_PASSWORD;
  if (password === undefined)
    throw new KeyError("FABSTIR_KEYSTORE_PASSWORD is required to unlock the keystore");
  let json: string;
  try {
    json = await readFile(opts.keystore, "utf8");
  } catch (e) {
    throw new KeyError(`cannot read the keystore ${opts.keystore}: ${(e as Error).message}`);
  }
  return privateKeyToAccount(decryptKeystore(json, password));
}
