/**
 * WebGPU enum values, fixed by the specification. Defined here so the library needs no
 * GPUBufferUsage/GPUMapMode globals (Dawn in Node does not install them on globalThis).
 */
export const BufferUsage = {
  MAP_READ: 0x1,
  MAP_WRITE: 0x2,
  COPY_SRC: 0x4,
  COPY_DST: 0x8,
  UNIFORM: 0x40,
  STORAGE: 0x80,
} as const;

export const MapMode = { READ: 0x1, WRITE: 0x2 } as const;

/** Threads per workgroup in our 1-D kernels (a safe size on every adapter). */
export const WORKGROUP = 64;

/** Largest number of workgroups in one dispatch dimension (spec minimum). */
export const MAX_GROUPS_PER_DIM = 65535;
