/**
 * Streams a GGUF v3 file to disk: metadata, tensor infos, then tensor data produced chunk
 * by chunk (so a 100M-parameter model never sits in memory), encoded as F32, F16 or Q8_0.
 * Returns the file's size and sha256, computed while writing.
 */
import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import {
  DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VERSION,
  GgmlType,
  type GgufValue,
  GgufValueType,
  Q8_0_BLOCK,
  tensorBytes,
} from "./format.ts";

export interface TensorSpec {
  name: string;
  /** ggml order: dims[0] is the row length (the fastest-moving index). */
  dims: number[];
  type: GgmlType;
  /** Fills `chunk` with the next values of the tensor, in order; called until all are written. */
  next: (chunk: Float32Array) => void;
}

export interface GgufContents {
  metadata: [string, GgufValue][];
  tensors: TensorSpec[];
}

/** Little-endian byte sink that grows as needed (for the header part). */
class Bytes {
  private buf = Buffer.alloc(1 << 16);
  length = 0;
  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u32(v: number): void {
    this.room(4);
    this.length = this.buf.writeUInt32LE(v, this.length);
  }
  i32(v: number): void {
    this.room(4);
    this.length = this.buf.writeInt32LE(v, this.length);
  }
  f32(v: number): void {
    this.room(4);
    this.length = this.buf.writeFloatLE(v, this.length);
  }
  u64(v: bigint | number): void {
    this.room(8);
    this.length = this.buf.writeBigUInt64LE(BigInt(v), this.length);
  }
  u8(v: number): void {
    this.room(1);
    this.length = this.buf.writeUInt8(v, this.length);
  }
  str(s: string): void {
    const b = Buffer.from(s, "utf8");
    this.u64(b.length);
    this.room(b.length);
    b.copy(this.buf, this.length);
    this.length += b.length;
  }
  pad(alignment: number): void {
    const n = (alignment - (this.length % alignment)) % alignment;
    this.room(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

function writeValue(out: Bytes, v: GgufValue): void {
  switch (v.type) {
    case GgufValueType.UINT32:
      out.u32(v.value);
      return;
    case GgufValueType.INT32:
      out.i32(v.value);
      return;
    case GgufValueType.FLOAT32:
      out.f32(v.value);
      return;
    case GgufValueType.UINT64:
      out.u64(v.value);
      return;
    case GgufValueType.BOOL:
      out.u8(v.value ? 1 : 0);
      return;
    case GgufValueType.STRING:
      out.str(v.value);
      return;
    case GgufValueType.ARRAY:
      out.u32(v.itemType);
      out.u64(v.value.length);
      for (const item of v.value) {
        if (v.itemType === GgufValueType.STRING) out.str(String(item));
        else if (v.itemType === GgufValueType.FLOAT32) out.f32(Number(item));
        else out.i32(Number(item));
      }
  }
}

/** IEEE 754 binary16 bits of `x` (round to nearest even). */
export function toF16(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0] as number;
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (rest > mid || (rest === mid && half & 1) ? half + 1 : half);
  }
  const rest = mant & 0x1fff;
  let half = (e << 10) | (mant >>> 13);
  // Rounding up may carry into the exponent, and up to infinity (0x7c00): both correct.
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
  return sign | half;
}

/** Encodes values (a multiple of 32 for Q8_0) into `type`'s bytes. */
export function encode(type: GgmlType, values: Float32Array): Buffer {
  const out = Buffer.alloc(tensorBytes(type, values.length));
  if (type === GgmlType.F32) {
    Buffer.from(values.buffer, values.byteOffset, values.byteLength).copy(out);
  } else if (type === GgmlType.F16) {
    for (let i = 0; i < values.length; i++) out.writeUInt16LE(toF16(values[i] as number), i * 2);
  } else {
    let o = 0;
    for (let b = 0; b < values.length; b += Q8_0_BLOCK) {
      let amax = 0;
      for (let i = 0; i < Q8_0_BLOCK; i++) amax = Math.max(amax, Math.abs(values[b + i] as number));
      const d = amax / 127;
      const inv = d === 0 ? 0 : 1 / d;
      out.writeUInt16LE(toF16(d), o);
      o += 2;
      for (let i = 0; i < Q8_0_BLOCK; i++)
        out.writeInt8(Math.round((values[b + i] as number) * inv), o++);
    }
  }
  return out;
}

const CHUNK_VALUES = 1 << 20; // a multiple of 32

/** Writes `contents` to `path`; returns its size in bytes and sha256 (hex). */
export async function writeGguf(
  path: string,
  contents: GgufContents,
): Promise<{ bytes: number; sha256: string }> {
  const head = new Bytes();
  head.u32(GGUF_MAGIC);
  head.u32(GGUF_VERSION);
  head.u64(contents.tensors.length);
  head.u64(contents.metadata.length);
  for (const [key, value] of contents.metadata) {
    head.str(key);
    head.u32(value.type);
    writeValue(head, value);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of contents.tensors) {
    head.str(t.name);
    head.u32(t.dims.length);
    for (const d of t.dims) head.u64(d);
    head.u32(t.type);
    head.u64(offset);
    offsets.push(offset);
    const size = tensorBytes(
      t.type,
      t.dims.reduce((a, b) => a * b, 1),
    );
    offset += size + ((DEFAULT_ALIGNMENT - (size % DEFAULT_ALIGNMENT)) % DEFAULT_ALIGNMENT);
  }
  head.pad(DEFAULT_ALIGNMENT);

  const hash = createHash("sha256");
  const file = await open(path, "w");
  let written = 0;
  const put = async (b: Buffer) => {
    hash.update(b);
    await file.write(b);
    written += b.length;
  };
  try {
    await put(head.bytes());
    const dataStart = written;
    for (const [i, t] of contents.tensors.entries()) {
      const padding = dataStart + (offsets[i] as number) - written;
      if (padding > 0) await put(Buffer.alloc(padding));
      let left = t.dims.reduce((a, b) => a * b, 1);
      while (left > 0) {
        const chunk = new Float32Array(Math.min(left, CHUNK_VALUES));
        t.next(chunk);
        await put(encode(t.type, chunk));
        left -= chunk.length;
      }
    }
    const tail =
      (DEFAULT_ALIGNMENT - ((written - dataStart) % DEFAULT_ALIGNMENT)) % DEFAULT_ALIGNMENT;
    if (tail > 0) await put(Buffer.alloc(tail));
  } finally {
    await file.close();
  }
  return { bytes: written, sha256: hash.digest("hex") };
}
