import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** One row of the README's Guarantees table, as a fault test measured it. */
export interface GuaranteeOutcome {
  scenario: string;
  test: string;
  idsStored: number;
  idsFailed: number;
  idsLost: number;
  duplicateFetches: number;
  recoverySeconds?: number;
  notes?: string;
}

/** Writes the measured outcome to test-artifacts/guarantees/, where the README's table is filled from. */
export function recordGuarantee(key: string, outcome: GuaranteeOutcome): void {
  const dir = resolve(__dirname, '../../test-artifacts/guarantees');
  mkdirSync(dir, { recursive: true });
  writeFileSync(resolve(dir, `${key}.json`), `${JSON.stringify(outcome, null, 2)}\n`);
  process.stdout.write(`guarantee ${key}: ${JSON.stringify(outcome)}\n`);
}
