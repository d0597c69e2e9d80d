import { callInstr, type EncodedFunc, encodeFunctions, I32, type ValType } from './encoder.js';

/**
 * How a WebAssembly kernel is written: its parameters and locals by name, the instruction rows
 * built from those names, and other kernels called by name. The module encoder numbers the
 * parameters and locals in declaration order and resolves the calls, so a kernel never spells
 * a local's position nor where another kernel sits in the module, and the TypeScript type of
 * the module's exports follows from the definitions (KernelExports) instead of being written
 * again by hand.
 */

/** `count` consecutive i32 parameters under one name (a group kernel's rows). */
export type ParamRun = readonly [name: string, count: number];
/** A parameter: every one is an i32 (a byte offset into the memory, or a count). */
export type Param = string | ParamRun;
/** Locals by name, in declaration order: one value, or a run of several (see `times`). */
export type LocalDecls = { readonly [name: string]: ValType | readonly ValType[] };

/** The indices of a run of parameters or locals: run(r) is the r-th (checked against the run's length). */
export type Run = (r: number) => number;

type ParamName<E> = E extends string ? E : E extends readonly [infer N extends string, number] ? N : never;

/** What a kernel body sees: each name's local index (a run's: a Run). */
export type Vars<P extends readonly Param[], L extends LocalDecls> = {
  readonly [E in P[number] as ParamName<E>]: E extends string ? number : Run;
} & { readonly [K in keyof L]: L[K] extends readonly unknown[] ? Run : number };

/** Pushes a call of the module's kernel `name`. */
export type Call = (name: string) => number[];

export interface Kernel<
  N extends string = string,
  P extends readonly Param[] = readonly Param[],
  R extends readonly ValType[] = readonly ValType[],
  L extends LocalDecls = LocalDecls,
> {
  /** The export's name (and how other kernels call it). */
  readonly name: N;
  readonly params: P;
  /** [] or [F32]. */
  readonly results: R;
  readonly locals: L;
  /** The instruction rows (the final `end` is added by the encoder). */
  body(v: Vars<P, L>, call: Call): number[][];
}

/** A kernel definition, with its names kept as literal types (what KernelExports reads). */
export function kernel<
  const N extends string,
  const P extends readonly Param[],
  const R extends readonly ValType[],
  const L extends LocalDecls,
>(k: Kernel<N, P, R, L>): Kernel<N, P, R, L> {
  return k;
}

/** A run of `count` locals of type `t`. */
export function times(count: number, t: ValType): readonly ValType[] {
  return new Array<ValType>(count).fill(t);
}

type Args<P extends readonly Param[]> = P extends readonly string[] ? { -readonly [I in keyof P]: number } : number[];

/** The instantiated module's exports, one function per kernel (a kernel with parameter runs takes number[]). */
export type KernelExports<Ks extends readonly Kernel[]> = {
  readonly [K in Ks[number] as K['name']]: (...args: Args<K['params']>) => K['results'] extends readonly [] ? void : number;
};

function runOf(name: string, first: number, count: number): Run {
  return (r) => {
    if (!Number.isInteger(r) || r < 0 || r >= count) throw new Error(`wasm kernel: ${name}(${r}) is outside its run of ${count}`);
    return first + r;
  };
}

/** Numbers the kernel's names: params first, then locals, each in declaration order. */
function lower(k: Kernel, call: Call): EncodedFunc {
  const vars: Record<string, number | Run> = {};
  const declare = (name: string, index: number | Run) => {
    // An integer-like key would be enumerated before the others, out of declaration order.
    if (/^\d+$/.test(name)) throw new Error(`wasm kernel ${k.name}: '${name}' is not a usable local name`);
    if (name in vars) throw new Error(`wasm kernel ${k.name}: '${name}' is declared twice`);
    vars[name] = index;
  };
  const params: ValType[] = [];
  for (const p of k.params) {
    const [name, count] = typeof p === 'string' ? [p, 0] : p;
    declare(name, typeof p === 'string' ? params.length : runOf(name, params.length, count));
    params.push(...times(typeof p === 'string' ? 1 : count, I32));
  }
  const locals: ValType[] = [];
  for (const [name, t] of Object.entries(k.locals)) {
    const at = params.length + locals.length;
    if (typeof t === 'number') {
      declare(name, at);
      locals.push(t);
    } else {
      declare(name, runOf(name, at, t.length));
      locals.push(...t);
    }
  }
  return { name: k.name, params, results: k.results, locals, body: k.body(vars as Vars<readonly Param[], LocalDecls>, call) };
}

/**
 * Encodes a module exporting `kernels` in order (see encodeFunctions for the memory import);
 * calls between them are resolved by name. An unknown callee or a name used twice throws.
 */
export function encodeModule(kernels: readonly Kernel[], shared?: { maxPages: number }): Uint8Array<ArrayBuffer> {
  const index = new Map<string, number>();
  for (const k of kernels) {
    if (index.has(k.name)) throw new Error(`wasm kernel ${k.name} is defined twice`);
    index.set(k.name, index.size);
  }
  const funcs = kernels.map((k) =>
    lower(k, (callee) => {
      const at = index.get(callee);
      if (at === undefined) throw new Error(`wasm kernel ${k.name} calls ${callee}, which the module does not define`);
      return callInstr(at);
    }),
  );
  return encodeFunctions(funcs, shared);
}
