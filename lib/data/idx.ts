/**
 * The IDX format of LeCun's MNIST files (also Fashion-MNIST's): a 4-byte magic number
 * `00 00 <type> <ndims>`, then ndims big-endian uint32 dimension sizes, then the values row-major.
 * Only type 0x08 (unsigned byte) is read, the type every (Fashion-)MNIST file uses. Files may be
 * gzipped (detected from the gzip magic 1f 8b, not from the name).
 */
import { existsSync, readFileSync } from "node:fs";
import { gunzipSync, gzipSync } from "node:zlib";
import { check, MtlError } from "../errors";
import { writeFileAtomic } from "../util/fsAtomic";

export interface IdxArray {
  /** Dimension sizes, e.g. [60000, 28, 28] for images, [60000] for labels. */
  shape: number[];
  data: Uint8Array;
}

const UBYTE = 0x08;

/** Parses IDX bytes (already un-gzipped); `file` names the source in errors. */
export function parseIdx(bytes: Uint8Array, file: string, expectedDims?: number): IdxArray {
  const where = `readIdx('${file}')`;
  check(
    bytes.length >= 4,
    where,
    () =>
      `the file has ${bytes.length} bytes; an IDX file starts with a 4-byte magic number (00 00 08 <ndims>). It is truncated or not an IDX file.`,
  );
  const magic = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
  if (bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== UBYTE || bytes[3] < 1) {
    const want = expectedDims ? `00 00 08 0${expectedDims}` : "00 00 08 <ndims>";
    throw new MtlError(
      where,
      `wrong magic number ${magic}; expected ${want} (an IDX file of unsigned bytes). The file is corrupt or not an IDX file.`,
    );
  }
  const ndims = bytes[3];
  if (expectedDims !== undefined && ndims !== expectedDims) {
    throw new MtlError(
      where,
      `the file has ${ndims} dimensions (magic ${magic}); expected ${expectedDims} (${expectedDims === 1 ? "labels" : "images"}).`,
    );
  }
  const headerLength = 4 + 4 * ndims;
  check(
    bytes.length >= headerLength,
    where,
    () => `the header needs ${headerLength} bytes for ${ndims} dimensions but the file has ${bytes.length}; it is truncated.`,
  );
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  for (let i = 0; i < ndims; i++) shape.push(view.getUint32(4 + 4 * i, false));
  const count = shape.reduce((a, b) => a * b, 1);
  const have = bytes.length - headerLength;
  if (have !== count) {
    const what = have < count ? "it is truncated (short read)" : "it has trailing bytes";
    throw new MtlError(where, `the header says shape [${shape.join(", ")}], i.e. ${count} values, but ${have} bytes follow it; ${what}.`);
  }
  return { shape, data: bytes.subarray(headerLength) };
}

/** Reads an IDX file, gzipped or not. */
export function readIdx(file: string, expectedDims?: number): IdxArray {
  const where = `readIdx('${file}')`;
  check(existsSync(file), where, () => "the file does not exist.");
  let bytes: Uint8Array = readFileSync(file);
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new MtlError(where, `the file is gzipped but does not decompress (${(e as Error).message}); it is truncated or corrupt.`);
    }
  }
  return parseIdx(bytes, file, expectedDims);
}

/** IDX bytes for unsigned-byte data of the given shape. */
export function encodeIdx(array: IdxArray): Uint8Array {
  const { shape, data } = array;
  const count = shape.reduce((a, b) => a * b, 1);
  check(count === data.length, "encodeIdx", () => `shape [${shape.join(", ")}] holds ${count} values but the data has ${data.length}.`);
  const out = new Uint8Array(4 + 4 * shape.length + data.length);
  out[2] = UBYTE;
  out[3] = shape.length;
  const view = new DataView(out.buffer);
  shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * shape.length);
  return out;
}

/** Writes an IDX file atomically, gzipped when the name ends in .gz. */
export function writeIdx(file: string, array: IdxArray): void {
  const bytes = encodeIdx(array);
  writeFileAtomic(file, file.endsWith(".gz") ? gzipSync(bytes, { level: 9 }) : bytes, 0o644);
}
