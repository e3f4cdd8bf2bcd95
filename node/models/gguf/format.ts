/**
 * GGUF v3 constants shared by the writer and the reader (the format llama.cpp loads):
 * header = magic "GGUF", version, tensor count, metadata count; then metadata key/values,
 * tensor infos (name, dims, ggml type, offset), padding to the alignment, tensor data.
 * All integers are little-endian; strings are a uint64 length then UTF-8 bytes.
 */

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32
export const GGUF_VERSION = 3;
export const DEFAULT_ALIGNMENT = 32;

/** Metadata value types. */
export const GgufValueType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;
export type GgufValueType = (typeof GgufValueType)[keyof typeof GgufValueType];

/** Tensor element types this project writes (ggml_type numbering). */
export const GgmlType = { F32: 0, F16: 1, Q8_0: 8 } as const;
export type GgmlType = (typeof GgmlType)[keyof typeof GgmlType];

/** Q8_0: blocks of 32 values, each an f16 scale then 32 int8s. */
export const Q8_0_BLOCK = 32;
const Q8_0_BLOCK_BYTES = 2 + Q8_0_BLOCK;

/** Bytes taken by `count` elements of `type`. */
export function tensorBytes(type: GgmlType, count: number): number {
  switch (type) {
    case GgmlType.F32:
      return count * 4;
    case GgmlType.F16:
      return count * 2;
    case GgmlType.Q8_0:
      if (count % Q8_0_BLOCK !== 0) throw new RangeError(`Q8_0 needs a multiple of 32 values`);
      return (count / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES;
    default:
      throw new RangeError(`unsupported tensor type ${type}`);
  }
}

/** A metadata value with its GGUF type. Arrays hold one element type. */
export type GgufValue =
  | {
      type: typeof GgufValueType.UINT32 | typeof GgufValueType.INT32 | typeof GgufValueType.FLOAT32;
      value: number;
    }
  | { type: typeof GgufValueType.UINT64; value: bigint }
  | { type: typeof GgufValueType.BOOL; value: boolean }
  | { type: typeof GgufValueType.STRING; value: string }
  | {
      type: typeof GgufValueType.ARRAY;
      itemType:
        | typeof GgufValueType.STRING
        | typeof GgufValueType.FLOAT32
        | typeof GgufValueType.INT32;
      value: readonly (string | number)[];
    };

export const gguf = {
  u32: (value: number): GgufValue => ({ type: GgufValueType.UINT32, value }),
  i32: (value: number): GgufValue => ({ type: GgufValueType.INT32, value }),
  f32: (value: number): GgufValue => ({ type: GgufValueType.FLOAT32, value }),
  u64: (value: bigint): GgufValue => ({ type: GgufValueType.UINT64, value }),
  bool: (value: boolean): GgufValue => ({ type: GgufValueType.BOOL, value }),
  str: (value: string): GgufValue => ({ type: GgufValueType.STRING, value }),
  strings: (value: readonly string[]): GgufValue => ({
    type: GgufValueType.ARRAY,
    itemType: GgufValueType.STRING,
    value,
  }),
  f32s: (value: readonly number[]): GgufValue => ({
    type: GgufValueType.ARRAY,
    itemType: GgufValueType.FLOAT32,
    value,
  }),
  i32s: (value: readonly number[]): GgufValue => ({
    type: GgufValueType.ARRAY,
    itemType: GgufValueType.INT32,
    value,
  }),
};
