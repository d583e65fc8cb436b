import { randomBytes } from 'node:crypto';

/** A batch id that sorts by creation time and is unique across producers on many machines. */
export function newBatchId(now = Date.now()): string {
  return `b-${now.toString(36)}-${randomBytes(3).toString('hex')}`;
}

export function isBatchId(value: string): boolean {
  return /^b-[0-9a-z]{6,12}-[0-9a-f]{6}$/.test(value);
}
