import { describe, expect, it } from 'vitest';
import { jacobiEigen, principalComponents, project } from '../bench/pca.js';
import { Rng } from '../src/util/rng.js';

/** The PCA behind the benchmark's bge-pca128 set (bench/pca.ts). */

const gaussian = (rng: Rng) => Math.sqrt(-2 * Math.log(rng.nextOpenUnit())) * Math.cos(2 * Math.PI * rng.nextOpenUnit());

describe('bench PCA', () => {
  it('Jacobi diagonalizes a symmetric matrix: A v = lambda v for every pair', () => {
    const n = 12;
    const rng = new Rng(3);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = gaussian(rng);
    const { values, vectors } = jacobiEigen(a, n);
    for (let e = 0; e < n; e++) {
      for (let i = 0; i < n; i++) {
        let av = 0;
        for (let k = 0; k < n; k++) av += a[i * n + k]! * vectors[k * n + e]!;
        expect(av).toBeCloseTo(values[e]! * vectors[i * n + e]!, 9);
      }
    }
  });

  it('recovers planted directions, their variances and the share of variance they hold', () => {
    // 4000 rows in 40-d: variance 100, 49, 25, 9 along four random orthonormal directions, 1 elsewhere, offset by a mean.
    const dim = 40;
    const n = 4000;
    const rng = new Rng(11);
    const basis = new Float64Array(dim * dim);
    for (let i = 0; i < basis.length; i++) basis[i] = gaussian(rng);
    for (let j = 0; j < dim; j++) {
      for (let i = 0; i < j; i++) {
        let dot = 0;
        for (let k = 0; k < dim; k++) dot += basis[i * dim + k]! * basis[j * dim + k]!;
        for (let k = 0; k < dim; k++) basis[j * dim + k] = basis[j * dim + k]! - dot * basis[i * dim + k]!;
      }
      let norm = 0;
      for (let k = 0; k < dim; k++) norm += basis[j * dim + k]! ** 2;
      for (let k = 0; k < dim; k++) basis[j * dim + k] = basis[j * dim + k]! / Math.sqrt(norm);
    }
    const sd = Array.from({ length: dim }, (_, j) => [10, 7, 5, 3][j] ?? 1);
    const rows = new Float32Array(n * dim);
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < dim; j++) {
        const c = sd[j]! * gaussian(rng);
        for (let k = 0; k < dim; k++) rows[r * dim + k] = rows[r * dim + k]! + c * basis[j * dim + k]!;
      }
      for (let k = 0; k < dim; k++) rows[r * dim + k] = rows[r * dim + k]! + 3;
    }
    const pca = principalComponents(rows, n, dim, 4, { seed: 1, oversample: 8 });
    expect(pca.maxResidual).toBeLessThan(1e-6);
    for (let c = 0; c < 4; c++) {
      // Same direction up to sign, variance within sampling error (a few %).
      let dot = 0;
      for (let k = 0; k < dim; k++) dot += pca.components[c * dim + k]! * basis[c * dim + k]!;
      expect(Math.abs(dot)).toBeGreaterThan(0.99);
      expect(pca.variances[c]! / sd[c]! ** 2).toBeGreaterThan(0.9);
      expect(pca.variances[c]! / sd[c]! ** 2).toBeLessThan(1.1);
    }
    expect(pca.variances[0]! / pca.totalVariance).toBeCloseTo(100 / (100 + 49 + 25 + 9 + 36), 1);
    // Projection: centred coordinates, whose variance along component 0 is its eigenvalue.
    const projected = project(pca, rows, n);
    let sum = 0;
    let sq = 0;
    for (let r = 0; r < n; r++) {
      sum += projected[r * 4]!;
      sq += projected[r * 4]! ** 2;
    }
    expect(Math.abs(sum / n)).toBeLessThan(1e-3);
    expect(sq / n / pca.variances[0]!).toBeCloseTo(1, 3);
  });
});
