/**
 * Distinct-value estimates from a sample, shared by the connectors whose SAMPLE reads part of a
 * table (PostgreSQL, MySQL/MariaDB, MongoDB), so that one estimator with one name is behind
 * every extrapolated `distinct_count`.
 */

/**
 * The Haas–Stokes Duj1 estimate of a column's distinct values from a sample, as PostgreSQL's
 * ANALYZE computes it: n·d / (n − f1 + f1·n/N), n the rows sampled, N the table's rows, d the
 * distinct values in the sample and f1 those seen once; at least d and at most N. When the
 * sample is the whole table (N ≤ n) it is d.
 *
 * Haas, P. J. and Stokes, L. (1998), "Estimating the number of classes in a finite
 * population", JASA 93(444); PostgreSQL `src/backend/commands/analyze.c`, compute_scalar_stats.
 */
export function duj1(n: number, d: number, f1: number, N: number): number {
  if (n <= 0 || d <= 0) return 0;
  if (!(N > n)) return d;
  const denominator = n - f1 + (f1 * n) / N;
  const estimate = denominator > 0 ? (n * d) / denominator : N;
  return Math.round(Math.min(N, Math.max(d, estimate)));
}
