/**
 * CRC-32 (IEEE 802.3: reflected polynomial 0xEDB88320, initial value and final XOR 0xFFFFFFFF) of the digits of
 * decimals fed one by one, so that Kraken's book checksum is computed over its levels' strings without cutting and
 * joining them into one string and converting that to bytes. The text is ASCII (decimals checked as they were read).
 */

const TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** The running value before any text. */
export const CRC32_START = -1;

/** `crc` after the digits of a decimal with its point and leading zeros left out (`0.0150` adds `150`). */
export function crc32Digits(crc: number, text: string): number {
  let i = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 48 /* 0 */ && c !== 46 /* . */) break;
  }
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 46) crc = TABLE[(crc ^ c) & 255]! ^ (crc >>> 8);
  }
  return crc;
}

/** The unsigned CRC-32 of what was fed. */
export function crc32End(crc: number): number {
  return (crc ^ -1) >>> 0;
}
