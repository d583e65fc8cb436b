/**
 * Small numbers helpers for the bench: medians of repeated runs and the ratios the targets are
 * stated in. Machines are noisy, so every figure in the report is a median of several runs,
 * with its spread shown next to it.
 */

/** The median of a sample (mean of the two middle values for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A repeated measurement: every sample, in run order, and its median. */
export interface Sample {
  readonly values: number[];
  readonly unit: string;
}

export function sample(values: number[], unit: string): Sample {
  return { values, unit };
}

export function med(s: Sample): number {
  return median(s.values);
}

/** `1234 ms (1190–1302, n=5)`: median, then the range of the runs. */
export function describe(s: Sample, digits = 0): string {
  if (s.values.length === 0) return 'n/a';
  const f = (v: number) => fmt(v, digits);
  const lo = Math.min(...s.values);
  const hi = Math.max(...s.values);
  const spread = s.values.length > 1 ? ` (${f(lo)}–${f(hi)}, n=${s.values.length})` : '';
  return `${f(median(s.values))} ${s.unit}${spread}`;
}

export function fmt(v: number, digits = 0): string {
  if (!Number.isFinite(v)) return 'n/a';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** `1.23x` */
export function fmtRatio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}x` : 'n/a';
}

/** Pairs up runs done back to back and returns the median of their ratios (a / b). */
export function pairedRatio(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  const ratios: number[] = [];
  for (let i = 0; i < n; i++) ratios.push(a[i]! / b[i]!);
  return median(ratios);
}
