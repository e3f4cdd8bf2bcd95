/**
 * Checks a model file before it is handed to llama.cpp: the GGUF header parses and the
 * file is complete, the architecture is one this node serves for the configured role, and
 * the sha256 matches the expected hash when one is known (configured, or the model id is
 * itself the file's sha256 as registered on chain). Hashes are cached in memory by path, size
 * and modification time, so loading a model again (after an eviction) re-reads a 5 GB file
 * only when it changed; the node hands its hashes to its inference workers (knownHash,
 * rememberHash), so a worker does not hash the file a second time.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { CHAT_ARCHITECTURES, EMBEDDING_ARCHITECTURES } from "../constants.ts";
import { ModelFileError, ModelHashMismatchError } from "../errors.ts";
import { GgufFormatError, type GgufHeader, readGgufHeader } from "./gguf/reader.ts";

export type ModelRole = "chat" | "embedding";

export interface ValidatedModel {
  path: string;
  architecture: string;
  header: GgufHeader;
  sha256: string;
  bytes: number;
}

const hashes = new Map<string, KnownHash>();

export interface KnownHash {
  size: number;
  mtimeMs: number;
  sha256: string;
}

/** The cached hash of a file, if this process hashed it (it is checked again on use). */
export function knownHash(path: string): KnownHash | undefined {
  return hashes.get(path);
}

/**
 * Seeds the cache with a hash another process of this node computed; it is used only while
 * the file's size and modification time are the ones it was computed for.
 */
export function rememberHash(path: string, known: KnownHash): void {
  hashes.set(path, { size: known.size, mtimeMs: known.mtimeMs, sha256: known.sha256 });
}

/** The sha256 (hex) of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const st = await stat(path);
  const known = hashes.get(path);
  if (known && known.size === st.size && known.mtimeMs === st.mtimeMs) return known.sha256;
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 22 })) hash.update(chunk);
  const sha256 = hash.digest("hex");
  hashes.set(path, { size: st.size, mtimeMs: st.mtimeMs, sha256 });
  return sha256;
}

export async function validateModelFile(
  path: string,
  role: ModelRole,
  expectedSha256?: string,
): Promise<ValidatedModel> {
  let header: GgufHeader;
  try {
    header = await readGgufHeader(path);
  } catch (e) {
    if (e instanceof GgufFormatError) throw new ModelFileError(path, e.reason, { cause: e });
    throw e;
  }
  const architecture = String(header.metadata.get("general.architecture") ?? "");
  const supported: readonly string[] =
    role === "chat" ? CHAT_ARCHITECTURES : EMBEDDING_ARCHITECTURES;
  if (!supported.includes(architecture))
    throw new ModelFileError(
      path,
      `architecture "${architecture}" is not supported for ${role} (supported: ${supported.join(", ")})`,
    );
  const sha256 = await sha256File(path);
  if (expectedSha256 && sha256 !== expectedSha256.toLowerCase())
    throw new ModelHashMismatchError(path, expectedSha256.toLowerCase(), sha256);
  return { path, architecture, header, sha256, bytes: header.fileSize };
}
