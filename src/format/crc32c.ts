/**
 * CRC-32C (Castagnoli): reflected polynomial 0x82F63B78, initial value 0xFFFFFFFF, final XOR 0xFFFFFFFF
 * (check value of "123456789": 0xE3069283). Computed natively (SSE4.2 / ARMv8 CRC instructions where
 * available): it runs over every byte written and read, so it must cost next to nothing.
 */
import { crc32c as nativeCrc32c } from "@node-rs/crc32";

/** Continues a CRC over `bytes`; start with `crc = 0` (the init/final XORs are applied inside). */
export function crc32c(bytes: Uint8Array, crc = 0): number {
  return nativeCrc32c(bytes, crc) >>> 0;
}
