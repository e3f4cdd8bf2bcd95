/**
 * Reads a GGUF file's header (metadata and tensor infos) without loading tensor data, and
 * checks that it is complete: magic, version, every tensor's data inside the file. Used to
 * validate a model before handing it to llama.cpp, whose own errors are much less clear.
 */
import { open } from "node:fs/promises";
import { NodeError } from "../../errors.ts";
import { DEFAULT_ALIGNMENT, GGUF_MAGIC, GgmlType, GgufValueType, tensorBytes } from "./format.ts";

export type MetadataValue = number | bigint | boolean | string | MetadataValue[];

export interface TensorInfo {
  name: string;
  dims: bigint[];
  type: number;
  offset: bigint;
}

export interface GgufHeader {
  version: number;
  metadata: Map<string, MetadataValue>;
  tensors: TensorInfo[];
  /** Absolute file offset where tensor data starts. */
  dataOffset: number;
  fileSize: number;
}

/** The file is not a usable GGUF file; `reason` says why. */
export class GgufFormatError extends NodeError {
  override readonly code = "model_file_invalid";
  readonly path: string;
  readonly reason: string;
  constructor(path: string, reason: string) {
    super(`${path}: not a valid GGUF file: ${reason}`);
    this.path = path;
    this.reason = reason;
  }
}

class EndOfBuffer extends Error {}

class Cursor {
  pos = 0;
  private readonly buf: Buffer;
  constructor(buf: Buffer) {
    this.buf = buf;
  }
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new EndOfBuffer();
  }
  u8(): number {
    this.need(1);
    return this.buf.readUInt8(this.pos++);
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }
  str(): string {
    const n = this.u64();
    if (n > 1n << 30n) throw new RangeError(`string of ${n} bytes`);
    this.need(Number(n));
    const s = this.buf.toString("utf8", this.pos, this.pos + Number(n));
    this.pos += Number(n);
    return s;
  }
  value(type: number): MetadataValue {
    const b = this.buf;
    const read = (n: number, f: (at: number) => number | bigint) => {
      this.need(n);
      const v = f(this.pos);
      this.pos += n;
      return v;
    };
    switch (type) {
      case GgufValueType.UINT8:
        return read(1, (a) => b.readUInt8(a));
      case GgufValueType.INT8:
        return read(1, (a) => b.readInt8(a));
      case GgufValueType.UINT16:
        return read(2, (a) => b.readUInt16LE(a));
      case GgufValueType.INT16:
        return read(2, (a) => b.readInt16LE(a));
      case GgufValueType.UINT32:
        return read(4, (a) => b.readUInt32LE(a));
      case GgufValueType.INT32:
        return read(4, (a) => b.readInt32LE(a));
      case GgufValueType.FLOAT32:
        return read(4, (a) => b.readFloatLE(a));
      case GgufValueType.BOOL:
        return this.u8() !== 0;
      case GgufValueType.STRING:
        return this.str();
      case GgufValueType.UINT64:
        return read(8, (a) => b.readBigUInt64LE(a));
      case GgufValueType.INT64:
        return read(8, (a) => b.readBigInt64LE(a));
      case GgufValueType.FLOAT64:
        return read(8, (a) => b.readDoubleLE(a));
      case GgufValueType.ARRAY: {
        const itemType = this.u32();
        const n = this.u64();
        if (n > 1n << 26n) throw new RangeError(`array of ${n} items`);
        const items: MetadataValue[] = [];
        for (let i = 0; i < Number(n); i++) items.push(this.value(itemType));
        return items;
      }
      default:
        throw new RangeError(`unknown metadata type ${type}`);
    }
  }
}

function parse(path: string, buf: Buffer, fileSize: number): GgufHeader {
  const c = new Cursor(buf);
  if (c.u32() !== GGUF_MAGIC) throw new GgufFormatError(path, "bad magic (not GGUF)");
  const version = c.u32();
  if (version !== 2 && version !== 3)
    throw new GgufFormatError(path, `unsupported version ${version}`);
  const tensorCount = c.u64();
  const kvCount = c.u64();
  if (tensorCount > 100_000n || kvCount > 100_000n)
    throw new GgufFormatError(path, "implausible tensor or metadata count");
  const metadata = new Map<string, MetadataValue>();
  for (let i = 0; i < Number(kvCount); i++) {
    const key = c.str();
    metadata.set(key, c.value(c.u32()));
  }
  const tensors: TensorInfo[] = [];
  for (let i = 0; i < Number(tensorCount); i++) {
    const name = c.str();
    const nDims = c.u32();
    if (nDims > 4) throw new GgufFormatError(path, `tensor ${name} has ${nDims} dims`);
    const dims: bigint[] = [];
    for (let d = 0; d < nDims; d++) dims.push(c.u64());
    tensors.push({ name, dims, type: c.u32(), offset: c.u64() });
  }
  const alignment = Number(metadata.get("general.alignment") ?? DEFAULT_ALIGNMENT);
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  for (const t of tensors) {
    const count = Number(t.dims.reduce((a, b) => a * b, 1n));
    // Sizes are checked for the types this project knows; others only for their start.
    const known = (Object.values(GgmlType) as number[]).includes(t.type);
    const size = known ? tensorBytes(t.type as GgmlType, count) : 0;
    if (dataOffset + Number(t.offset) + size > fileSize)
      throw new GgufFormatError(path, `tensor ${t.name} extends past the end (truncated file)`);
  }
  return { version, metadata, tensors, dataOffset, fileSize };
}

/** Reads and checks the header of the GGUF file at `path`. */
export async function readGgufHeader(path: string): Promise<GgufHeader> {
  const file = await open(path, "r").catch((e: NodeJS.ErrnoException) => {
    throw new GgufFormatError(path, e.code === "ENOENT" ? "file not found" : String(e));
  });
  try {
    const { size } = await file.stat();
    for (let length = 1 << 20; ; length *= 4) {
      const n = Math.min(length, size);
      const buf = Buffer.alloc(n);
      await file.read(buf, 0, n, 0);
      try {
        return parse(path, buf, size);
      } catch (e) {
        if (e instanceof GgufFormatError) throw e;
        if (e instanceof EndOfBuffer) {
          if (n === size) throw new GgufFormatError(path, "header truncated");
          continue;
        }
        throw new GgufFormatError(path, e instanceof Error ? e.message : String(e));
      }
    }
  } finally {
    await file.close();
  }
}
