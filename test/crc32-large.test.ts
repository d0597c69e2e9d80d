import { describe, expect, it } from 'vitest';
import { crc32 } from '../src/io/crc32.js';
import { Rng } from '../src/util/rng.js';

describe('crc32 past 2 GiB', () => {
  // An index file of 1M x 768 f32 vectors is over 3 GiB: its checksum is taken over the whole
  // buffer when it is serialized, and must match the one a streamed load takes piece by piece.
  it('equals the checksum continued over pieces below 2 GiB', () => {
    const length = 2 ** 31 + 13;
    const bytes = new Uint8Array(length);
    const rng = new Rng(11);
    const block = 1 << 20;
    for (let i = 0; i < block; i++) bytes[i] = rng.nextU32() & 0xff;
    // Blocks differ from each other by their first bytes, so no stretch repeats a shifted copy.
    for (let at = block; at < length; at += block) {
      bytes.copyWithin(at, 0, Math.min(block, length - at));
      bytes[at] = (at / block) & 0xff;
    }
    let pieces = 0;
    for (let at = 0; at < length; at += 1 << 30) pieces = crc32(bytes.subarray(at, Math.min(length, at + (1 << 30))), pieces);
    expect(crc32(bytes)).toBe(pieces);
  });
});
