import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Where tests leave what a person may want to look at afterwards: screenshots, guarantee figures (git-ignored). */
const ARTIFACTS = resolve(__dirname, '../../test-artifacts');

/** A path under test-artifacts/, its folder created. */
export function artifactPath(...parts: string[]): string {
  const path = resolve(ARTIFACTS, ...parts);
  mkdirSync(dirname(path), { recursive: true });
  return path;
}
