import type { HnswIndex } from '../src/index.js';
import { $, formatBytes, formatMs } from './render.js';
import { storeChanged } from './search-panel.js';
import { app, showError, update } from './state.js';
import { canSwitch, STORE_CHOICES, STORE_LABELS, type StoreChoice, setRerank, storeMemory, withStoreChoice } from './store-choice.js';

/** The "vectors searched" row of the index panel: the choice, the re-ranking switch, the memory line. */

const nextFrame = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

function chosen(): StoreChoice {
  return $<HTMLSelectElement>('store-choice').value as StoreChoice;
}

export function initStorePanel(): void {
  const select = $<HTMLSelectElement>('store-choice');
  select.replaceChildren(...STORE_CHOICES.map((c) => new Option(STORE_LABELS[c], c)));
  select.addEventListener('change', () => {
    void switchTo(chosen());
  });
  const rerank = $<HTMLInputElement>('rerank');
  setRerank(rerank.checked);
  rerank.addEventListener('change', () => {
    setRerank(rerank.checked);
    showStore();
  });
  showStore();
}

/** A freshly built index (plain vectors) over the vectors chosen now. */
export function withChosenStore(index: HnswIndex): { index: HnswIndex; ms: number } {
  const t0 = performance.now();
  const out = withStoreChoice(index, chosen());
  return { index: out, ms: performance.now() - t0 };
}

/** Makes the current index search `choice`: the same graph, no rebuild (encoding takes a moment on large data). */
async function switchTo(choice: StoreChoice): Promise<void> {
  const index = app.index;
  if (!index) return;
  const select = $<HTMLSelectElement>('store-choice');
  select.disabled = true;
  $('store-info').textContent = `Encoding the vectors as ${STORE_LABELS[choice]}…`;
  update({ storeBusy: true });
  try {
    await nextFrame(); // let the message show before the encoding holds the thread
    const t0 = performance.now();
    const next = withStoreChoice(index, choice);
    const ms = performance.now() - t0;
    if (app.index !== index) return; // another index arrived meanwhile
    app.index = next;
    app.indexBytes = null; // serialized again when saved
    storeChanged(index, next);
    showStore(ms);
  } catch (e) {
    showError('Could not change the vectors searched', e);
    showStore();
  } finally {
    update({ storeBusy: false });
  }
}

const perVector = (bytes: number) => `${bytes.toLocaleString('en', { maximumFractionDigits: bytes >= 100 ? 0 : 1 })} B`;

/** Shows what the current index searches and its memory, and sets the choice to match it. */
export function showStore(encodeMs: number | null = null): void {
  const select = $<HTMLSelectElement>('store-choice');
  const info = $('store-info');
  const index = app.index;
  if (!index) {
    select.disabled = true;
    info.textContent = 'Build or load an index, then choose the vectors it searches.';
    update({ store: null });
    return;
  }
  const m = storeMemory(index);
  select.disabled = !canSwitch(index);
  if (m.choice) select.value = m.choice;
  const name = m.choice ? STORE_LABELS[m.choice] : `${m.kind} vectors`;
  const graph = ` Graph: ${formatBytes(m.graphBytes)}.`;
  const took = encodeMs === null ? '' : ` Encoded in ${formatMs(encodeMs)}, same graph, no rebuild.`;
  if (m.kind === 'sparse') {
    info.innerHTML = `Searching the plain sparse vectors (${formatBytes(m.storeBytes)}); the compressed choices are for dense vectors.${graph}`;
  } else if (m.choice === 'f32') {
    info.innerHTML = `Searching <b>${name}</b>: <b>${perVector(m.bytesPerVector)}</b> per vector, ${formatBytes(m.storeBytes)} for ${index.capacity.toLocaleString('en')} slots.${graph}`;
  } else {
    const ratio = m.f32Bytes / m.storeBytes;
    const kept = m.rerankKind === 'dense' ? 'The plain vectors stay' : `${m.rerankKind} codes of the vectors stay`;
    const bound = m.kind === 'rabitq' ? ': only those whose distance bound can still enter the top k get a distance' : '';
    const rerank =
      m.rerankBytes === 0
        ? ' No re-ranking vectors are kept: results are ordered by the codes alone.'
        : m.rerank
          ? ` ${kept} beside the codes (${formatBytes(m.rerankBytes)}) and re-rank each search's ef candidates${bound}.`
          : ` Re-ranking is off: results are ordered by the codes' estimates (${formatBytes(m.rerankBytes)} kept for re-ranking stay unused).`;
    info.innerHTML =
      `Searching <b>${name}</b> codes: <b>${perVector(m.bytesPerVector)}</b> per vector (f32: ${perVector(m.f32Bytes / index.capacity)}), ` +
      `${formatBytes(m.storeBytes)} against f32's ${formatBytes(m.f32Bytes)}: <b>${ratio.toFixed(1)}×</b> smaller.${rerank}${took}${graph}`;
  }
  update({ store: { ...m, encodeMs } });
}
