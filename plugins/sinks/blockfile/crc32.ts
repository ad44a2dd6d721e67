/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the checksum zlib and gzip use.
 * Node >= 20.15 ships it natively as `zlib.crc32`; older runtimes fall back to the table below,
 * which yields the same values, so files written by either are interchangeable.
 */
import zlib from 'node:zlib';

const TABLE = buildTable();

function buildTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/** Table-driven CRC-32 of `buf[start, end)`, continuing from `crc` (0 to start fresh). */
export function crc32Portable(buf: Uint8Array, start: number, end: number, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = start; i < end; i++) c = TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

type NativeCrc32 = (data: Uint8Array, value?: number) => number;
const native = (zlib as unknown as { crc32?: NativeCrc32 }).crc32;

/** CRC-32 of `buf[start, end)`, continuing from `crc`; native when the runtime has it. */
export const crc32: (buf: Uint8Array, start: number, end: number, crc?: number) => number = native
  ? (buf, start, end, crc = 0) => native(buf.subarray(start, end), crc)
  : crc32Portable;

export const crc32IsNative = native !== undefined;
