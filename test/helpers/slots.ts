import { DenseDataset, type HnswIndex } from '../../src/index.js';

/**
 * Ids a search over an index's own store or graph returns (slots: FlatIndex over index.store,
 * LayerSearcher on index.graph) as the ids the index's results give: the locality layout
 * keeps items in other slots than their ids.
 */
export function idsOfSlots(index: HnswIndex, slots: Int32Array): Int32Array {
  return index.order ? index.order.idsOf(slots) : slots;
}

/** The slot of item `id` of `index` (its store row, graph node, labels and removed bit). */
export function slotOfId(index: HnswIndex, id: number): number {
  return index.order ? index.order.slotOf(id) : id;
}

/** `data`'s rows (row i = item i) in the slot order of `index`: what its store holds. */
export function rowsInSlots(index: HnswIndex, data: DenseDataset): DenseDataset {
  const order = index.order;
  if (order === null) return data;
  return DenseDataset.fromRows(Array.from(order.itemIds, (id) => data.get(id)));
}
