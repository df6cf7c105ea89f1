/** The kernel's logo, drawn here and encoded as PNG (no image files, no dependencies). */
import { deflateSync } from "zlib";

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** Encode RGBA pixels (row-major, 4 bytes each) as a PNG file. */
export function encodePng(width: number, height: number, rgba: Uint8Array): Buffer {
  const raw = Buffer.alloc((width * 4 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 4 + 1)] = 0; // filter: none
    Buffer.from(rgba.buffer, rgba.byteOffset + y * width * 4, width * 4).copy(raw, y * (width * 4 + 1) + 1);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/**
 * A rounded TypeScript-blue tile with one shared trunk branching into three
 * task heads (the multi-task picture), in white.
 */
export function logoPng(size: number): Buffer {
  const px = new Uint8Array(size * size * 4);
  const r = size * 0.18;
  const inTile = (x: number, y: number) => {
    const cx = Math.min(Math.max(x, r), size - r);
    const cy = Math.min(Math.max(y, r), size - r);
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
  };
  const s = size / 64;
  const segs: [number, number, number, number][] = [
    [32, 52, 32, 30], // trunk
    [32, 30, 16, 14], // head 1
    [32, 30, 32, 12], // head 2
    [32, 30, 48, 14], // head 3
  ].map(([a, b, c, d]) => [a * s, b * s, c * s, d * s]);
  const w = 3.2 * s;
  const nearSeg = (x: number, y: number) =>
    segs.some(([x1, y1, x2, y2]) => {
      const dx = x2 - x1;
      const dy = y2 - y1;
      const t = Math.max(0, Math.min(1, ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy)));
      return (x - x1 - t * dx) ** 2 + (y - y1 - t * dy) ** 2 <= w * w;
    });
  const dots = [
    [16, 14],
    [32, 12],
    [48, 14],
    [32, 52],
  ].map(([a, b]) => [a * s, b * s]);
  const nearDot = (x: number, y: number) => dots.some(([a, b]) => (x - a) ** 2 + (y - b) ** 2 <= (5.5 * s) ** 2);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 4;
      const cx = x + 0.5;
      const cy = y + 0.5;
      if (!inTile(cx, cy)) continue;
      const white = nearSeg(cx, cy) || nearDot(cx, cy);
      px.set(white ? [255, 255, 255, 255] : [0x31, 0x78, 0xc6, 255], i);
    }
  }
  return encodePng(size, size, px);
}
