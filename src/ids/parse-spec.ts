import { InvalidSpecError } from '../config/errors';
import { IdSet } from './id-set';

/** Largest id a spec may name. The API's ids stop at 10326 today; this only stops typos like 1-10000000000. */
export const MAX_ID = 1_000_000;

/** What a list of specs names: explicit ids, and whether `all` (every id the API lists) was asked for. */
export interface ParsedSpec {
  ids: IdSet;
  all: boolean;
}

/**
 * Parses what a user typed (`25`, `1-151`, `1-10,25,10001-10010`, `all`, several arguments) into
 * sorted, de-duplicated ids, kept as ranges (`1-1000000` is one range, not a million numbers). Throws {@link InvalidSpecError} on the first bad piece, naming it,
 * before anything is enqueued.
 */
export function parseSpecs(specs: readonly string[]): ParsedSpec {
  const pieces = specs.flatMap((s) => s.split(',')).map((p) => p.trim());
  if (pieces.length === 0 || pieces.every((p) => p === '')) {
    throw new InvalidSpecError('no ids given: name ids like 25, a range like 1-151, a list like 1-10,25, or all');
  }
  const ranges: [number, number][] = [];
  let all = false;
  for (const piece of pieces) {
    if (piece === '') throw new InvalidSpecError('empty item in the id list (look for a doubled or trailing comma)');
    if (piece.toLowerCase() === 'all') {
      all = true;
      continue;
    }
    const range = /^(\d+)-(\d+)$/.exec(piece);
    if (range) {
      const from = toId(range[1]!, piece);
      const to = toId(range[2]!, piece);
      if (from > to) throw new InvalidSpecError(`"${piece}" is a backwards range: write ${to}-${from}`);
      ranges.push([from, to]);
      continue;
    }
    if (/^\d+$/.test(piece)) {
      const id = toId(piece, piece);
      ranges.push([id, id]);
      continue;
    }
    throw new InvalidSpecError(
      `"${piece}" is not an id, a range (1-151), or all; ids are positive whole numbers`,
    );
  }
  return { ids: IdSet.fromRanges(ranges), all };
}

function toId(digits: string, piece: string): number {
  if (idProblem(digits)) throw new InvalidSpecError(`"${piece}" is out of range: ids go from 1 to ${MAX_ID}`);
  return Number(digits);
}

/**
 * Why `text` is not an id a spec may name, or undefined when it is one: the one check for ids
 * typed by a user and ids the API's list endpoint names (`all`).
 */
export function idProblem(text: string): string | undefined {
  if (!/^\d+$/.test(text)) return 'ids are positive whole numbers';
  // Compare as text first: Number('99999999999999999999') loses precision silently.
  const id = text.replace(/^0+/, '').length > String(MAX_ID).length ? Infinity : Number(text);
  if (id < 1 || id > MAX_ID) return `ids go from 1 to ${MAX_ID}`;
  return undefined;
}
