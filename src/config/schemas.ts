import { availableParallelism } from 'node:os';
import { z } from 'zod';

/** Schemas shared by every configuration table: environment values arrive as strings. */

export const integer = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

export const boolean = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['true', 'false', '1', '0', 'yes', 'no'].includes(v), 'must be true or false')
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** `auto` (one thread per core beyond the first, at most 4) or a count from 0 to 16. */
export const threadCount = z
  .string()
  .trim()
  .regex(/^(auto|\d+)$/, 'must be auto or a whole number from 0 to 16')
  .transform((v) => (v === 'auto' ? Math.min(4, Math.max(0, availableParallelism() - 1)) : Number(v)))
  .pipe(z.number().int().min(0).max(16, 'must be at most 16'));
