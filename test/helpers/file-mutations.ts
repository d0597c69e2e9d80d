import { crc32 } from '../../src/io/crc32.js';
import { Rng } from '../../src/util/rng.js';

/**
 * Structure-aware mutations of webannolo index files for the file fuzzer: the container is
 * parsed, a header field, the sections table, a section's bytes or the file's length is
 * rewritten, and the file is laid out again with a fresh CRC, so that the checksum never
 * catches the damage and the loaders' validators must.
 */

export interface Section {
  name: string;
  dtype: string;
  length: number;
  bytes: Uint8Array;
}

export interface ParsedFile {
  version: number;
  header: Record<string, unknown>;
  sections: Section[];
}

const MAGIC = 'WANNOLO\0';
const DTYPE_BYTES: Record<string, number> = { u8: 1, u32: 4, i32: 4, f32: 4 };
const align8 = (n: number) => Math.ceil(n / 8) * 8;

/** A valid file, parsed (header without its sections table, each section's bytes). */
export function parseFile(file: Uint8Array): ParsedFile {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const headerLength = view.getUint32(12, true);
  const header = JSON.parse(new TextDecoder().decode(file.subarray(16, 16 + headerLength))) as Record<string, unknown>;
  const table = header['sections'] as { name: string; dtype: string; offset: number; length: number }[];
  delete header['sections'];
  const sections = table.map((e) => ({
    name: e.name,
    dtype: e.dtype,
    length: e.length,
    bytes: file.slice(e.offset, e.offset + e.length * DTYPE_BYTES[e.dtype]!),
  }));
  return { version: view.getUint32(8, true), header, sections };
}

/** Sets the last 4 bytes to the CRC of the rest (a file that passes its checksum). */
export function withCrc(file: Uint8Array): Uint8Array {
  if (file.length >= 4)
    new DataView(file.buffer, file.byteOffset).setUint32(file.length - 4, crc32(file.subarray(0, file.length - 4)), true);
  return file;
}

/**
 * Lays a parsed file out as the writer does (sections on 8-byte boundaries after the header,
 * then the CRC). `editHeader` may rewrite the whole header, the sections table included,
 * after the real offsets are in it: the data stays where the real table says, the header is
 * padded with spaces so that its own length never moves it.
 */
export function layOut(p: ParsedFile, editHeader?: (header: Record<string, unknown>) => unknown): Uint8Array {
  let reserve = 0;
  let json = new Uint8Array(0);
  let offsets: number[] = [];
  for (;;) {
    let at = align8(16 + reserve);
    offsets = p.sections.map((s) => {
      const o = at;
      at = align8(at + s.bytes.length);
      return o;
    });
    const table = p.sections.map((s, i) => ({ name: s.name, dtype: s.dtype, offset: offsets[i]!, length: s.length }));
    const header = structuredClone({ ...p.header, sections: table });
    const edited = editHeader ? editHeader(header) : header;
    json = new TextEncoder().encode(JSON.stringify(edited) ?? 'null');
    if (json.length <= reserve) break;
    reserve = json.length + 32;
  }
  const last = p.sections.length - 1;
  const dataEnd = last >= 0 ? offsets[last]! + p.sections[last]!.bytes.length : align8(16 + reserve);
  const out = new Uint8Array(align8(dataEnd) + 4);
  out.set(new TextEncoder().encode(MAGIC), 0);
  const view = new DataView(out.buffer);
  view.setUint32(8, p.version, true);
  view.setUint32(12, reserve, true);
  out.fill(0x20, 16, 16 + reserve);
  out.set(json, 16);
  p.sections.forEach((s, i) => {
    out.set(s.bytes, offsets[i]!);
  });
  return withCrc(out);
}

/** One mutated file and what was done to it (the assertion message of a failing case). */
export interface Mutant {
  what: string;
  bytes: Uint8Array;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Values a field is replaced with: edges of every range a check could get wrong, and every wrong type. */
function replacementFor(rng: Rng, old: unknown): unknown {
  const v = typeof old === 'number' ? old : 7;
  const choices: unknown[] = [
    0,
    -1,
    1,
    2,
    255,
    256,
    2 ** 16,
    2 ** 24,
    2 ** 31 - 1,
    2 ** 31,
    2 ** 32 - 1,
    2 ** 32,
    2 ** 40,
    2 ** 53,
    1e300,
    -1e300,
    0.5,
    1.5,
    v + 1,
    v - 1,
    v * 2,
    Math.floor(v / 2),
    -v,
    v + 0.25,
    'x',
    '',
    String(old),
    true,
    false,
    null,
    [],
    {},
    [old],
    { value: old },
    'dense',
    'sparse',
    'pq',
    'f16',
    'sq8',
    'hnsw',
    'flat',
    'ip',
    'l2',
    'number',
    'string',
  ];
  return choices[rng.nextInt(choices.length)];
}

/** Every [parent, key] of a JSON value, depth first. */
function fieldsOf(value: unknown, out: [Record<string, unknown> | unknown[], string | number][] = []) {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      out.push([value, i]);
      fieldsOf(v, out);
    });
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      out.push([value as Record<string, unknown>, k]);
      fieldsOf(v, out);
    }
  }
  return out;
}

/** Rewrites (or deletes) one field anywhere in the header, sections table included. */
function mutateField(rng: Rng, header: Record<string, unknown>): string {
  const fields = fieldsOf(header);
  const [parent, key] = fields[rng.nextInt(fields.length)]!;
  const old = (parent as Record<string | number, unknown>)[key];
  if (rng.nextInt(8) === 0 && !Array.isArray(parent)) {
    delete (parent as Record<string, unknown>)[key as string];
    return `delete ${String(key)}`;
  }
  const value = replacementFor(rng, old);
  (parent as Record<string | number, unknown>)[key] = value;
  return `${String(key)}: ${JSON.stringify(old)?.slice(0, 40)} -> ${JSON.stringify(value)}`;
}

type Entry = { name: unknown; dtype: unknown; offset: unknown; length: unknown };
const NAMES = [
  'store.vectors',
  'store.codes',
  'graph.levels',
  'graph.level0',
  'graph.upper',
  'keys.f64',
  'labels.indptr',
  'bogus',
  '',
  'store.x',
];
const DTYPES: unknown[] = ['u8', 'u32', 'i32', 'f32', 'f64', 7, null];

/** Rewrites the sections table: drop, reorder, duplicate, overlap, move past the end, rename, retype, resize. */
function mutateTable(rng: Rng, header: Record<string, unknown>): string {
  const table = header['sections'] as Entry[];
  const i = rng.nextInt(table.length);
  const e = table[i]!;
  // An earlier step may have left something else in the table: edit it as a field.
  if (typeof e !== 'object' || e === null || Array.isArray(e)) return mutateField(rng, header);
  const n = typeof e.length === 'number' ? e.length : 8;
  switch (rng.nextInt(14)) {
    case 0:
      table.splice(i, 1);
      return `drop section ${i}`;
    case 1: {
      const j = rng.nextInt(table.length);
      [table[i], table[j]] = [table[j]!, table[i]!];
      return `swap sections ${i} and ${j}`;
    }
    case 2:
      table.splice(i + 1, 0, { ...e });
      return `duplicate section ${i}`;
    case 3: {
      const j = rng.nextInt(table.length);
      table.splice(j, 0, { ...e, name: `${String(e.name)}2` });
      return `copy section ${i} under another name at ${j}`;
    }
    case 4:
      if (i > 0) e.offset = table[i - 1]?.offset;
      return `section ${i} overlaps the one before`;
    case 5:
      e.offset = Number(e.offset) + [8, -8, 1, 4, 2 ** 32, 2 ** 40][rng.nextInt(6)]!;
      return `move section ${i} to ${String(e.offset)}`;
    case 6:
      e.length = [n + 1, n - 1, 0, n * 2, Math.floor(n / 2), 2 ** 31, 2 ** 40, 2 ** 53, -1][rng.nextInt(9)]!;
      return `section ${i} length ${n} -> ${String(e.length)}`;
    case 7: {
      const other = table[rng.nextInt(table.length)]?.name;
      e.name = rng.nextInt(2) === 0 ? other : NAMES[rng.nextInt(NAMES.length)];
      return `rename section ${i} to ${JSON.stringify(e.name)}`;
    }
    case 8:
      e.dtype = DTYPES[rng.nextInt(DTYPES.length)];
      return `section ${i} dtype -> ${JSON.stringify(e.dtype)}`;
    case 9:
      header['sections'] = [{}, 'abc', null, 5, { length: 3 }, table.slice(0, 1)[0]?.name ?? 'x'][rng.nextInt(6)];
      return `sections -> ${JSON.stringify(header['sections'])}`;
    case 10:
      table[i] = [null, 3, 'x', [], [e]][rng.nextInt(5)] as never;
      return `section ${i} -> not an entry`;
    case 11:
      table.reverse();
      return 'sections reversed';
    case 12: {
      // Point a section at another one's bytes, with its length.
      const j = rng.nextInt(table.length);
      e.offset = table[j]?.offset;
      e.length = table[j]?.length;
      return `section ${i} aliases section ${j}`;
    }
    default:
      table.push({ name: NAMES[rng.nextInt(NAMES.length)], dtype: 'u8', offset: 0, length: 8 });
      return 'extra section at offset 0';
  }
}

/** Overwrites bytes inside one section: link ids and counts, CSR rows, keys, codes, floats. */
function mutateData(rng: Rng, p: ParsedFile): string {
  const s = p.sections[rng.nextInt(p.sections.length)]!;
  if (s.bytes.length === 0) return `section ${s.name} is empty`;
  const bytes = s.bytes.slice();
  const view = new DataView(bytes.buffer);
  const words = Math.floor(bytes.length / 4);
  const k = 1 + rng.nextInt(4);
  const what: string[] = [];
  for (let t = 0; t < k; t++) {
    const at = rng.nextInt(Math.max(words, 1)) * 4;
    const kind = rng.nextInt(6);
    if (words === 0 || kind === 0) {
      const b = rng.nextInt(bytes.length);
      bytes[b] = rng.nextInt(256);
      what.push(`byte ${b}`);
    } else if (kind === 1) {
      view.setUint32(at, 0xffffffff, true);
      what.push(`u32 ${at / 4} = 2^32-1`);
    } else if (kind === 2) {
      view.setFloat32(at, [Number.NaN, Number.POSITIVE_INFINITY, -1e38][rng.nextInt(3)]!, true);
      what.push(`f32 ${at / 4} non-finite or huge`);
    } else if (kind === 3) {
      view.setUint32(at, view.getUint32(at, true) + 1, true);
      what.push(`u32 ${at / 4} + 1`);
    } else if (kind === 4) {
      view.setUint32(at, rng.nextInt(1024), true);
      what.push(`u32 ${at / 4} small`);
    } else {
      view.setUint32(at, 0, true);
      what.push(`u32 ${at / 4} = 0`);
    }
  }
  s.bytes = bytes;
  return `data of ${s.name}: ${what.join(', ')}`;
}

/** The raw container: magic, version, header length, JSON that is not an object. */
function mutateRaw(rng: Rng, file: Uint8Array): Mutant {
  const out = file.slice();
  const view = new DataView(out.buffer);
  switch (rng.nextInt(6)) {
    case 0: {
      const v = [0, 1, 2, 3, 4, 99, 0xffffffff][rng.nextInt(7)]!;
      view.setUint32(8, v, true);
      return { what: `version -> ${v}`, bytes: withCrc(out) };
    }
    case 1: {
      const h = view.getUint32(12, true);
      const v = [0, 1, h - 1, h + 1, h + 8, out.length, 0xffffffff][rng.nextInt(7)]!;
      view.setUint32(12, v >>> 0, true);
      return { what: `header length ${h} -> ${v}`, bytes: withCrc(out) };
    }
    case 2:
      out[rng.nextInt(8)]! ^= 1 << rng.nextInt(8);
      return { what: 'magic bit flip', bytes: withCrc(out) };
    case 3: {
      const p = parseFile(file);
      const body = ['[]', '5', '"text"', 'null', '{', '{"a":1}', 'true'][rng.nextInt(7)]!;
      return { what: `header -> ${body}`, bytes: layOut(p, () => JSON.parse(body === '{' ? '{}' : body)) };
    }
    case 4: {
      // Bytes of the header replaced by invalid UTF-8 / stray characters.
      const at = 16 + rng.nextInt(Math.max(1, view.getUint32(12, true)));
      out[at] = [0xff, 0x00, 0x22, 0x7b][rng.nextInt(4)]!;
      return { what: `header byte ${at} replaced`, bytes: withCrc(out) };
    }
    default: {
      const extra = 4 + 4 * rng.nextInt(8);
      const longer = new Uint8Array(out.length + extra);
      longer.set(out);
      return { what: `${extra} bytes appended`, bytes: withCrc(longer) };
    }
  }
}

/** Cut at a random point (or on a section boundary), the CRC written at the new end. */
function truncate(rng: Rng, file: Uint8Array): Mutant {
  const at = rng.nextInt(file.length);
  return { what: `cut at ${at} of ${file.length}`, bytes: withCrc(file.slice(0, at)) };
}

/** One random mutant of `file` (1 to 3 mutations of one family, or a family mix for header edits). */
export function mutate(rng: Rng, file: Uint8Array): Mutant {
  const family = rng.nextInt(10);
  if (family === 0) return truncate(rng, file);
  if (family === 1) return mutateRaw(rng, file);
  const p = parseFile(file);
  if (family <= 3) {
    const what = mutateData(rng, p);
    return { what, bytes: layOut(p) };
  }
  const steps = 1 + rng.nextInt(3);
  // layOut may call the edit more than once (the header's length moves the data): each call
  // must make the same edits, so each starts from the same seed.
  const seed = rng.nextInt(2 ** 31);
  const what: string[] = [];
  const bytes = layOut(p, (header) => {
    what.length = 0;
    const r = new Rng(seed);
    for (let s = 0; s < steps; s++) {
      const table = Array.isArray(header['sections']) && (header['sections'] as unknown[]).length > 0;
      what.push(family <= 6 && table ? mutateTable(r, header) : mutateField(r, header));
    }
    return header as Json;
  });
  return { what: what.join('; '), bytes };
}
