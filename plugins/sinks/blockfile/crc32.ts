/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the checksum zlib and gzip use.
 * Node >= 20.15 ships it natively as `zlib.crc32`; older runtimes fall back to the tables below,
 * which yield the same values, so files written by either are interchangeable.
 *
 * Most ranges the engine checksums are small (a 16-byte header tail plus a record of tens of
 * bytes). For those a call into zlib costs more than the checksum: it needs a subarray (a new
 * Buffer object) and argument checks. Ranges below SMALL_RANGE bytes are therefore computed here,
 * eight bytes per step (slicing-by-8); longer ranges go to zlib when the runtime has it.
 */
import zlib from 'node:zlib';

/** Eight 256-entry tables: TABLES[k * 256 + n] is the CRC of byte n followed by k zero bytes. */
const TABLES = buildTables();

function buildTables(): Int32Array {
  const t = new Int32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) {
      const prev = t[(k - 1) * 256 + n];
      t[k * 256 + n] = (prev >>> 8) ^ t[prev & 0xff];
    }
  }
  return t;
}

/** Table-driven CRC-32 of `buf[start, end)`, continuing from `crc` (0 to start fresh). */
export function crc32Portable(buf: Uint8Array, start: number, end: number, crc = 0): number {
  const t = TABLES;
  let c = ~crc;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    c ^= buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24);
    const h = buf[i + 4] | (buf[i + 5] << 8) | (buf[i + 6] << 16) | (buf[i + 7] << 24);
    c =
      t[1792 + (c & 0xff)] ^
      t[1536 + ((c >>> 8) & 0xff)] ^
      t[1280 + ((c >>> 16) & 0xff)] ^
      t[1024 + (c >>> 24)] ^
      t[768 + (h & 0xff)] ^
      t[512 + ((h >>> 8) & 0xff)] ^
      t[256 + ((h >>> 16) & 0xff)] ^
      t[h >>> 24];
  }
  for (; i < end; i++) c = t[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

type NativeCrc32 = (data: Uint8Array, value?: number) => number;
const native = (zlib as unknown as { crc32?: NativeCrc32 }).crc32;

/** Below this many bytes the table code is cheaper than a call into zlib (measured on Node 20). */
export const SMALL_RANGE = 128;

/** CRC-32 of `buf[start, end)`, continuing from `crc`; zlib for long ranges when the runtime has it. */
export const crc32: (buf: Uint8Array, start: number, end: number, crc?: number) => number = native
  ? (buf, start, end, crc = 0) => (end - start < SMALL_RANGE ? crc32Portable(buf, start, end, crc) : native(buf.subarray(start, end), crc))
  : crc32Portable;

export const crc32IsNative = native !== undefined;
