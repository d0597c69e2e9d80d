import { fail } from '../errors.js';
import type { ItemKey } from '../indexes/items/item-keys.js';

/**
 * The CLI's text files about items, one line per row (a trailing newline is optional):
 * - keys: a key per line; all lines integers in [0, 2^53) make numeric keys, otherwise
 *   every key is the line's text;
 * - labels: the row's labels separated by commas (an empty line: none).
 * `rows` is the number of vectors they describe: a different line count is an error (null:
 * any count, for a list of keys to remove).
 */
export function parseKeysText(text: string, rows: number | null, what: string): ItemKey[] {
  const lines = splitLines(text, rows, what);
  const numeric = lines.every((l) => /^\d{1,16}$/.test(l) && Number.isSafeInteger(Number(l)));
  return numeric ? lines.map(Number) : lines;
}

export function parseLabelsText(text: string, rows: number, what: string): number[][] {
  return splitLines(text, rows, what).map((line, i) => {
    if (line.trim() === '') return [];
    return line.split(',').map((part) => {
      const t = part.trim();
      if (!/^\d{1,10}$/.test(t) || Number(t) > 0xffffffff)
        fail('INVALID_ARGUMENT', `${what} line ${i + 1}: '${part}' is not a label (an integer in [0, 2^32 - 1])`);
      return Number(t);
    });
  });
}

function splitLines(text: string, rows: number | null, what: string): string[] {
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  const lines = body === '' ? [] : body.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (rows !== null && lines.length !== rows)
    fail('DIMENSION_MISMATCH', `${what} has ${lines.length} lines for ${rows} ${rows === 1 ? 'row' : 'rows'}: give one line per row`);
  return lines;
}
