import { type HnswIndex, RabitqQuantizer, RabitqStore, ScalarQuantizer } from '../src/index.js';

/**
 * What the demo searches: the plain f32 vectors the graph was built on, or a compressed copy of
 * them (f16, SQ8, RaBitQ 4 or 1 bit) over the same graph: index.quantize() with the plain
 * vectors kept, so switching needs no rebuild and the candidates can be re-ranked exactly.
 */

export const STORE_CHOICES = ['f32', 'f16', 'sq8', 'rabitq4', 'rabitq1'] as const;
export type StoreChoice = (typeof STORE_CHOICES)[number];

export const STORE_LABELS: Record<StoreChoice, string> = {
  f32: 'f32 (plain vectors)',
  f16: 'f16 (half floats)',
  sq8: 'SQ8 (8 bits per component)',
  rabitq4: 'RaBitQ 4-bit',
  rabitq1: 'RaBitQ 1-bit',
};

const isChoice = (s: string): s is StoreChoice => (STORE_CHOICES as readonly string[]).includes(s);

/** The choice `index` searches, or null when it is none of them (PQ codes, sparse vectors, RaBitQ at other bits). */
export function storeChoiceOf(index: HnswIndex): StoreChoice | null {
  const store = index.store;
  const name = store.kind === 'dense' ? 'f32' : store instanceof RabitqStore ? `rabitq${store.encoding.bits}` : store.kind;
  return isChoice(name) ? name : null;
}

/** True when `index` keeps its plain dense vectors (searched or beside codes), so any choice can be made from them. */
export function canSwitch(index: HnswIndex): boolean {
  return index.store.kind === 'dense' || index.rerankStore?.kind === 'dense';
}

/** `index` over `choice`: quantized from its plain vectors (kept for re-ranking), or back on them. */
export function withStoreChoice(index: HnswIndex, choice: StoreChoice): HnswIndex {
  if (storeChoiceOf(index) === choice) return index;
  if (!canSwitch(index)) throw new Error('this index does not keep its plain vectors, so it cannot search another kind of vectors');
  if (choice === 'f32') return index.store.kind === 'dense' ? index : index.withStore(index.rerankStore!);
  const quantizer =
    choice === 'f16' || choice === 'sq8' ? new ScalarQuantizer(choice) : new RabitqQuantizer({ bits: choice === 'rabitq4' ? 4 : 1 });
  return index.quantize(quantizer, { keepPlain: true });
}

let rerankOn = true;

/** Whether searches of compressed vectors re-rank their candidates with the plain vectors (the checkbox). */
export function setRerank(on: boolean): void {
  rerankOn = on;
}

/**
 * The re-ranking part of a search's parameters: every one of the ef candidates when the index
 * keeps plain vectors beside its codes and re-ranking is on (RaBitQ computes exact distances only
 * for the candidates whose lower bound can still enter the top k), else none.
 */
export function rerankParams(index: HnswIndex, ef: number): { rerank?: number } {
  return rerankOn && index.rerankStore !== null ? { rerank: ef } : {};
}

export interface StoreMemory {
  choice: StoreChoice | null;
  /** The store's kind as the library names it ('dense', 'f16', 'sq8', 'rabitq', 'pq', 'sparse'). */
  kind: string;
  bytesPerVector: number;
  storeBytes: number;
  /** What plain f32 vectors of the same items take. */
  f32Bytes: number;
  /** The re-ranking store kept beside the codes (0: none) and its kind ('dense': the plain vectors). */
  rerankBytes: number;
  rerankKind: string | null;
  graphBytes: number;
  rerank: boolean;
}

/** Memory of the searched store against plain f32 vectors of the same slots. */
export function storeMemory(index: HnswIndex): StoreMemory {
  const { storeBytes, rerankBytes, graphBytes } = index.memory;
  const slots = Math.max(1, index.capacity);
  return {
    choice: storeChoiceOf(index),
    kind: index.store.kind,
    bytesPerVector: storeBytes / slots,
    storeBytes,
    f32Bytes: slots * index.dim * 4,
    rerankBytes,
    rerankKind: index.rerankStore?.kind ?? null,
    graphBytes,
    rerank: rerankOn && index.rerankStore !== null,
  };
}
