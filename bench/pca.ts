/**
 * Principal component analysis for the benchmark's derived data sets (bench/bge-pca.ts): the
 * top principal directions of a set of rows, in float64, by subspace iteration with
 * Rayleigh–Ritz on the d x d covariance. Subspace iteration rather than a full eigensolver:
 * only the top r of d directions are wanted, it is a few dozen lines, and its residuals say
 * plainly how converged it is (they are reported, not assumed).
 */
import { Rng } from '../src/util/rng.js';

export interface Pca {
  dim: number;
  /** Components kept. */
  rank: number;
  /** The rows' mean (d). */
  mean: Float64Array;
  /** rank x dim, row i the i-th principal direction (unit length), by decreasing variance. */
  components: Float64Array;
  /** The variance along each kept direction (the covariance's top eigenvalues), decreasing. */
  variances: Float64Array;
  /** The rows' total variance (trace of the covariance): variances' sum / this is the share kept. */
  totalVariance: number;
  iterations: number;
  /** max_i |C v_i - lambda_i v_i| / lambda_1 over the kept directions, at the end. */
  maxResidual: number;
}

export interface PcaOptions {
  /** Seed of the random start block. */
  seed: number;
  /** Extra directions iterated beside the kept ones (faster convergence of the last kept ones). */
  oversample?: number;
  /** Stop when maxResidual falls below this. */
  tolerance?: number;
  maxIterations?: number;
}

/** Top-`rank` principal directions of the `n` rows of `rows` (n x dim, row-major). */
export function principalComponents(rows: Float32Array, n: number, dim: number, rank: number, options: PcaOptions): Pca {
  if (rank > dim || rank < 1 || n < 2) throw new Error(`pca: rank ${rank} of ${n} rows x ${dim}`);
  const { mean, cov } = covariance(rows, n, dim);
  let totalVariance = 0;
  for (let i = 0; i < dim; i++) totalVariance += cov[i * dim + i]!;
  const p = Math.min(dim, rank + (options.oversample ?? 32));
  const tolerance = options.tolerance ?? 1e-7;
  const maxIterations = options.maxIterations ?? 2000;
  // Block Q (p vectors of length dim, vector j at [j*dim, (j+1)*dim)), seeded Gaussian start.
  const rng = new Rng(options.seed);
  let q: Float64Array = new Float64Array(p * dim);
  for (let i = 0; i < q.length; i++) q[i] = gaussian(rng);
  orthonormalize(q, p, dim);
  let ritz: { vectors: Float64Array; values: Float64Array } = { vectors: q, values: new Float64Array(p) };
  let iterations = 0;
  let residual = Infinity;
  while (iterations < maxIterations) {
    // Ten multiplications by C between Rayleigh–Ritz steps (re-orthonormalized each time).
    for (let s = 0; s < 10; s++, iterations++) {
      q = multiply(cov, q, p, dim);
      orthonormalize(q, p, dim);
    }
    ritz = rayleighRitz(cov, q, p, dim);
    q = ritz.vectors;
    residual = maxResidual(cov, ritz.vectors, ritz.values, rank, dim);
    if (residual < tolerance) break;
  }
  return {
    dim,
    rank,
    mean,
    components: ritz.vectors.slice(0, rank * dim),
    variances: ritz.values.slice(0, rank),
    totalVariance,
    iterations,
    maxResidual: residual,
  };
}

/** Projects each row onto the components: out row = components (row - mean), as float32. */
export function project(pca: Pca, rows: Float32Array, n: number): Float32Array {
  const { dim, rank, mean, components } = pca;
  const out = new Float32Array(n * rank);
  const centred = new Float64Array(dim);
  for (let r = 0; r < n; r++) {
    for (let d = 0; d < dim; d++) centred[d] = rows[r * dim + d]! - mean[d]!;
    for (let c = 0; c < rank; c++) {
      let s = 0;
      const at = c * dim;
      for (let d = 0; d < dim; d++) s += components[at + d]! * centred[d]!;
      out[r * rank + c] = s;
    }
  }
  return out;
}

/** The mean and the (population) covariance, dim x dim, both triangles filled. */
function covariance(rows: Float32Array, n: number, dim: number): { mean: Float64Array; cov: Float64Array } {
  const mean = new Float64Array(dim);
  for (let r = 0; r < n; r++) for (let d = 0; d < dim; d++) mean[d] = mean[d]! + rows[r * dim + d]!;
  for (let d = 0; d < dim; d++) mean[d] = mean[d]! / n;
  const cov = new Float64Array(dim * dim);
  const x = new Float64Array(dim);
  for (let r = 0; r < n; r++) {
    for (let d = 0; d < dim; d++) x[d] = rows[r * dim + d]! - mean[d]!;
    for (let i = 0; i < dim; i++) {
      const xi = x[i]!;
      const at = i * dim;
      for (let j = i; j < dim; j++) cov[at + j] = cov[at + j]! + xi * x[j]!;
    }
  }
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) {
      const v = cov[i * dim + j]! / n;
      cov[i * dim + j] = v;
      cov[j * dim + i] = v;
    }
  }
  return { mean, cov };
}

/** C times each of the p vectors of `q` (C symmetric, so row i of C is its column i). */
function multiply(cov: Float64Array, q: Float64Array, p: number, dim: number): Float64Array {
  const out = new Float64Array(p * dim);
  for (let j = 0; j < p; j++) {
    const v = j * dim;
    for (let i = 0; i < dim; i++) {
      let s = 0;
      const row = i * dim;
      for (let k = 0; k < dim; k++) s += cov[row + k]! * q[v + k]!;
      out[v + i] = s;
    }
  }
  return out;
}

/** Modified Gram–Schmidt, twice (one pass loses orthogonality when the block is ill-conditioned). */
function orthonormalize(q: Float64Array, p: number, dim: number): void {
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < p; j++) {
      const vj = j * dim;
      for (let i = 0; i < j; i++) {
        const vi = i * dim;
        let dot = 0;
        for (let k = 0; k < dim; k++) dot += q[vi + k]! * q[vj + k]!;
        for (let k = 0; k < dim; k++) q[vj + k] = q[vj + k]! - dot * q[vi + k]!;
      }
      let norm = 0;
      for (let k = 0; k < dim; k++) norm += q[vj + k]! ** 2;
      norm = Math.sqrt(norm);
      if (norm === 0) throw new Error('pca: the iterated block lost rank');
      for (let k = 0; k < dim; k++) q[vj + k] = q[vj + k]! / norm;
    }
  }
}

/** The Ritz pairs of C on span(q): eigenpairs of Q^T C Q, vectors mapped back, by decreasing value. */
function rayleighRitz(cov: Float64Array, q: Float64Array, p: number, dim: number): { vectors: Float64Array; values: Float64Array } {
  const cq = multiply(cov, q, p, dim);
  const t = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = i; j < p; j++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += q[i * dim + k]! * cq[j * dim + k]!;
      t[i * p + j] = s;
      t[j * p + i] = s;
    }
  }
  const { values, vectors: w } = jacobiEigen(t, p);
  const order = Array.from({ length: p }, (_, i) => i).sort((a, b) => values[b]! - values[a]!);
  const outVectors = new Float64Array(p * dim);
  const outValues = new Float64Array(p);
  for (const [rank, e] of order.entries()) {
    outValues[rank] = values[e]!;
    // Ritz vector = sum_i w[i][e] q_i.
    for (let i = 0; i < p; i++) {
      const c = w[i * p + e]!;
      for (let k = 0; k < dim; k++) outVectors[rank * dim + k] = outVectors[rank * dim + k]! + c * q[i * dim + k]!;
    }
  }
  return { vectors: outVectors, values: outValues };
}

/** max over the first `rank` pairs of |C v - lambda v| / lambda_1. */
function maxResidual(cov: Float64Array, vectors: Float64Array, values: Float64Array, rank: number, dim: number): number {
  const cv = multiply(cov, vectors, rank, dim);
  let worst = 0;
  for (let j = 0; j < rank; j++) {
    let s = 0;
    for (let k = 0; k < dim; k++) s += (cv[j * dim + k]! - values[j]! * vectors[j * dim + k]!) ** 2;
    worst = Math.max(worst, Math.sqrt(s));
  }
  return worst / values[0]!;
}

/**
 * Eigen-decomposition of a small symmetric matrix (n x n, row-major; not modified) by cyclic
 * Jacobi rotations: values, and vectors as the columns of an n x n matrix.
 */
export function jacobiEigen(matrix: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = matrix.slice();
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < n; i++) {
      diag += a[i * n + i]! ** 2;
      for (let j = i + 1; j < n; j++) off += a[i * n + j]! ** 2;
    }
    if (off <= 1e-30 * diag) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (apq === 0) continue;
        // The rotation that zeroes a[p][q] (Golub & Van Loan, symmetric Schur decomposition).
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          // Columns p and q of A (A J), then rows p and q (J^T A J).
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: Float64Array.from({ length: n }, (_, i) => a[i * n + i]!), vectors: v };
}

/** A standard normal draw (Box–Muller on the seeded Rng). */
function gaussian(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(rng.nextOpenUnit())) * Math.cos(2 * Math.PI * rng.nextOpenUnit());
}
