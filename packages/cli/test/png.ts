/**
 * A small PNG reader for the browser test: checks the signature, reads IHDR, inflates the IDAT
 * stream with node:zlib and undoes the scanline filters (PNG spec section 9), so the test can look
 * at real pixels. 8-bit greyscale, RGB, grey+alpha and RGBA, non-interlaced (what Chromium writes).
 */
import { inflateSync } from 'node:zlib';

/** The eight bytes every PNG starts with. */
export const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

/** Channels per pixel by IHDR colour type. */
const CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 4: 2, 6: 4 };

/** A decoded image. */
export interface Png {
  width: number;
  height: number;
  colourType: number;
  channels: number;
  /** Unfiltered pixel bytes, row after row (width × channels each). */
  pixels: Uint8Array;
}

/**
 * Decode a PNG file.
 * @param buf the file's bytes
 * @returns the image
 * @throws Error naming what is wrong (signature, IHDR, unsupported format, a bad filter type)
 */
export function decodePng(buf: Uint8Array): Png {
  if (buf.length < 33 || !PNG_SIGNATURE.every((b, i) => buf[i] === b)) throw new Error('not a PNG: bad signature');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const type = (at: number) => String.fromCharCode(buf[at + 4]!, buf[at + 5]!, buf[at + 6]!, buf[at + 7]!);
  if (view.getUint32(8) !== 13 || type(8) !== 'IHDR') throw new Error('PNG: first chunk is not a 13-byte IHDR');
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  const depth = buf[24]!;
  const colourType = buf[25]!;
  const interlace = buf[28]!;
  const channels = CHANNELS[colourType];
  if (depth !== 8 || channels === undefined || interlace !== 0) throw new Error(`PNG: unsupported format (depth ${depth}, colour type ${colourType}, interlace ${interlace})`);
  const idat: Uint8Array[] = [];
  for (let at = 8; at + 8 <= buf.length; ) {
    const len = view.getUint32(at);
    const t = type(at);
    if (t === 'IDAT') idat.push(buf.subarray(at + 8, at + 8 + len));
    if (t === 'IEND') break;
    at += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length !== height * (stride + 1)) throw new Error(`PNG: ${raw.length} inflated bytes, expected ${height * (stride + 1)}`);
  const pixels = new Uint8Array(height * stride);
  let prev = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const cur = pixels.subarray(y * stride, (y + 1) * stride);
    cur.set(line);
    unfilter(filter, cur, prev, channels, y);
    prev = cur;
  }
  return { width, height, colourType, channels, pixels };
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Undo one scanline's filter in place (`cur` holds the filtered bytes). */
function unfilter(filter: number, cur: Uint8Array, prev: Uint8Array, bpp: number, y: number): void {
  const n = cur.length;
  switch (filter) {
    case 0:
      return;
    case 1:
      for (let i = bpp; i < n; i++) cur[i] = (cur[i]! + cur[i - bpp]!) & 0xff;
      return;
    case 2:
      for (let i = 0; i < n; i++) cur[i] = (cur[i]! + prev[i]!) & 0xff;
      return;
    case 3:
      for (let i = 0; i < n; i++) cur[i] = (cur[i]! + (((i >= bpp ? cur[i - bpp]! : 0) + prev[i]!) >> 1)) & 0xff;
      return;
    case 4:
      for (let i = 0; i < n; i++) cur[i] = (cur[i]! + paeth(i >= bpp ? cur[i - bpp]! : 0, prev[i]!, i >= bpp ? prev[i - bpp]! : 0)) & 0xff;
      return;
    default:
      throw new Error(`PNG: row ${y} has filter type ${filter}`);
  }
}

/**
 * Count the distinct pixel values (up to `limit`).
 * @param png the image
 * @param limit stop counting here
 * @returns the number of distinct colours seen, at most `limit`
 */
export function distinctColours(png: Png, limit = 1024): number {
  const seen = new Set<number>();
  const { pixels, channels } = png;
  for (let i = 0; i < pixels.length && seen.size < limit; i += channels) {
    let v = 0;
    for (let c = 0; c < channels; c++) v = v * 256 + pixels[i + c]!;
    seen.add(v);
  }
  return seen.size;
}
