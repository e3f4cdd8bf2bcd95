/**
 * The bytes32 id a model has on chain. A name of at most 32 bytes is stored UTF-8,
 * right-padded with zeros (as the registry and the discovery API read it); a
 * `sha256:<hex>` id names the model file by content and is stored as that digest.
 */
import { hexToString, stringToHex } from "viem";
import { FabstirError } from "./errors.ts";

/** A model name that cannot be a bytes32 model id (longer than 32 bytes). */
export class ModelIdError extends FabstirError {
  override readonly code = "invalid_request";
  override readonly userError = true;
}

/** A model id of the form `sha256:<64 hex>` names its file by content; its hash, else undefined. */
export function hashOfModelId(id: string): string | undefined {
  return /^sha256:([0-9a-f]{64})$/i.exec(id)?.[1]?.toLowerCase();
}

export function chainModelId(id: string): `0x${string}` {
  const sha = hashOfModelId(id);
  if (sha) return `0x${sha}`;
  if (Buffer.byteLength(id) > 32)
    throw new ModelIdError(
      `model id ${id} is longer than 32 bytes: use a shorter name or sha256:<hex of the file>`,
    );
  return stringToHex(id, { size: 32 });
}

/** The readable form of a bytes32 model id: its name, or `sha256:<hex>` when it is not text. */
export function modelIdName(id: `0x${string}`): string {
  const text = hexToString(id, { size: 32 }).replace(/\0+$/, "");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: any control character means a digest
  if (text.length > 0 && !/[\u0000-\u001f\uFFFD]/.test(text)) return text;
  return `sha256:${id.slice(2)}`;
}
