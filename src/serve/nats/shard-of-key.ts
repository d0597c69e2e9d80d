import { checkInteger, fail } from '../../errors.js';
import type { ItemKey } from '../../indexes/items/item-keys.js';

/**
 * Which shard owns an item: the one place that decides it, used by `webannolo build --shards`
 * (where each item goes), the gateway (where a write goes) and the client. It must give the
 * same answer in every process, on every platform and in every version that reads the same
 * files, so it hashes bytes, not JavaScript values:
 *
 *   number key n (a safe integer >= 0): the byte 0x4e ('N'), then n in decimal ASCII
 *   string key s:                        the byte 0x53 ('S'), then s in UTF-8
 *
 * with 32-bit FNV-1a (offset basis 2166136261, prime 16777619), and the shard is the hash
 * modulo the shard count. The tag byte keeps the number 7 and the string "7" apart. Items
 * built without keys get their global row number as key, so they hash the same way.
 */
export function shardOfKey(key: ItemKey, shards: number): number {
  checkInteger('shards', shards, 1, 0xffff);
  return hashKey(key) % shards;
}

/** The 32-bit FNV-1a hash of a key's canonical bytes (see shardOfKey), as an unsigned integer. */
export function hashKey(key: ItemKey): number {
  let h = 0x811c9dc5;
  const step = (byte: number) => {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  };
  if (typeof key === 'number') {
    if (!Number.isSafeInteger(key) || key < 0) fail('INVALID_ARGUMENT', `key ${key}: number keys must be integers in [0, 2^53 - 1]`);
    step(0x4e);
    const digits = String(key);
    for (let i = 0; i < digits.length; i++) step(digits.charCodeAt(i));
  } else if (typeof key === 'string') {
    step(0x53);
    for (const byte of ENCODER.encode(key)) step(byte);
  } else {
    fail('INVALID_ARGUMENT', `key ${JSON.stringify(key)}: keys are numbers or strings`);
  }
  return h >>> 0;
}

const ENCODER = new TextEncoder();
