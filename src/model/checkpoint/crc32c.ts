/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82f63b78) as used by LevelDB tables and TensorFlow
 * tensor bundles, plus LevelDB's "masked" form that both store on disk.
 */

const CASTAGNOLI_REFLECTED = 0x82f63b78;
const MASK_DELTA = 0xa282ead8;

/** Eight 256-entry tables for slicing-by-8: the checksum of a 400 MB checkpoint should take seconds, not minutes. */
const TABLES: Uint32Array[] = (() => {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256));
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ CASTAGNOLI_REFLECTED : crc >>> 1;
    tables[0][byte] = crc >>> 0;
  }
  for (let byte = 0; byte < 256; byte++) {
    let crc = tables[0][byte];
    for (let slice = 1; slice < 8; slice++) {
      crc = tables[0][crc & 0xff] ^ (crc >>> 8);
      tables[slice][byte] = crc >>> 0;
    }
  }
  return tables;
})();

/** Continues a CRC-32C (unmasked) over more bytes; start with `crc = 0`. */
export function crc32cExtend(crc: number, bytes: Uint8Array): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES;
  let state = ~crc >>> 0;
  let i = 0;
  const end8 = bytes.length - (bytes.length % 8);
  for (; i < end8; i += 8) {
    const low = state ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
    state =
      t7[low & 0xff] ^ t6[(low >>> 8) & 0xff] ^ t5[(low >>> 16) & 0xff] ^ t4[low >>> 24] ^
      t3[bytes[i + 4]] ^ t2[bytes[i + 5]] ^ t1[bytes[i + 6]] ^ t0[bytes[i + 7]];
  }
  for (; i < bytes.length; i++) state = t0[(state ^ bytes[i]) & 0xff] ^ (state >>> 8);
  return ~state >>> 0;
}

export function crc32c(bytes: Uint8Array): number {
  return crc32cExtend(0, bytes);
}

/**
 * LevelDB masks stored checksums so that a CRC computed over data that itself embeds CRCs
 * does not degenerate: rotate right by 15 bits, then add a constant.
 */
export function maskCrc32c(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;
}

export function unmaskCrc32c(masked: number): number {
  const rotated = (masked - MASK_DELTA) >>> 0;
  return ((rotated >>> 17) | (rotated << 15)) >>> 0;
}

export function maskedCrc32c(bytes: Uint8Array): number {
  return maskCrc32c(crc32c(bytes));
}
