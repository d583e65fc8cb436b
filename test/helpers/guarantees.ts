import { writeFileSync } from 'node:fs';
import { artifactPath } from './artifacts';

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
  writeFileSync(artifactPath('guarantees', `${key}.json`), `${JSON.stringify(outcome, null, 2)}\n`);
  process.stdout.write(`guarantee ${key}: ${JSON.stringify(outcome)}\n`);
}
