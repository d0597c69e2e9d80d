/**
 * Workgroup-memory layout of the resident kernel (shaders/beam_resident.wgsl): how many
 * (distance, id) entries the beam keeps, the round's candidate buffer and the visited hash,
 * sized to the device's maxComputeWorkgroupStorageSize (16 KiB guaranteed by WebGPU).
 */

/** Threads per workgroup in the resident kernel. */
export const RESIDENT_WORKGROUP = 64;
/** The kernel keeps at most 16 beam entries per thread in registers while merging. */
const MAX_EF_CAP = 16 * RESIDENT_WORKGROUP;
/** ... and at most 4 candidates per thread. */
const MAX_CAND_CAP = 4 * RESIDENT_WORKGROUP;
/** The kernel's parents array holds 8 expansions per round. */
export const MAX_RESIDENT_WIDTH = 8;
/** partial (64 f32), parents (8 u32), two atomic counters, the 8-word control block. */
const FIXED_BYTES = 4 * RESIDENT_WORKGROUP + 4 * 8 + 8 + 4 * 8;

export interface ResidentLayout {
  /** Capacity of the beam (ef rounded up to a multiple of 64). */
  efCap: number;
  /** Candidate buffer: a power of two >= max(width * m0, m). */
  candCap: number;
  /** Visited hash entries: a power of two > 4/3 (efCap + width * m0). */
  hashSize: number;
  width: number;
  /** Workgroup memory the layout uses. */
  bytes: number;
}

function pow2ceil(x: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, x)));
}

/**
 * The layout for beam width `ef`, or a reason it does not fit. The hash gets whatever memory
 * is left, up to 4x what it strictly needs (fewer forgets, fewer repeated distances).
 */
export function residentLayout(limitBytes: number, ef: number, width: number, m0: number, m: number): ResidentLayout | { error: string } {
  if (width > MAX_RESIDENT_WIDTH) return { error: `width ${width} exceeds the resident kernel's ${MAX_RESIDENT_WIDTH}` };
  const candCap = pow2ceil(Math.max(width * m0, m));
  if (candCap > MAX_CAND_CAP)
    return { error: `width x links (${width} x ${m0}) exceeds the resident kernel's ${MAX_CAND_CAP} candidates per round` };
  const efCap = Math.ceil(ef / RESIDENT_WORKGROUP) * RESIDENT_WORKGROUP;
  const maxEf = maxResidentEf(limitBytes, width, m0, m);
  if (efCap > MAX_EF_CAP || ef > maxEf) {
    return {
      error: `ef ${ef} exceeds the resident kernel's capacity on this device (ef <= ${maxEf} with ${limitBytes} bytes of workgroup memory)`,
    };
  }
  const fixed = FIXED_BYTES + 8 * efCap + 8 * candCap;
  const minHash = pow2ceil(Math.floor((4 * (efCap + width * m0)) / 3) + 1);
  let hashSize = minHash;
  while (hashSize < 4 * minHash && fixed + 4 * hashSize * 2 <= limitBytes) hashSize *= 2;
  return { efCap, candCap, hashSize, width, bytes: fixed + 4 * hashSize };
}

/** The largest ef the resident kernel holds with this much workgroup memory (0: none). */
export function maxResidentEf(limitBytes: number, width: number, m0: number, m: number): number {
  const candCap = pow2ceil(Math.max(width * m0, m));
  for (let efCap = MAX_EF_CAP; efCap > 0; efCap -= RESIDENT_WORKGROUP) {
    const hash = pow2ceil(Math.floor((4 * (efCap + width * m0)) / 3) + 1);
    if (FIXED_BYTES + 8 * efCap + 8 * candCap + 4 * hash <= limitBytes) return efCap;
  }
  return 0;
}

/** Threads per distance: enough work per lane (about 6 items) without idling lanes. */
export function teamSize(itemsPerDistance: number): number {
  let team = 1;
  while (team < 32 && team * 2 * 6 <= itemsPerDistance) team *= 2;
  return team;
}
