import { InvalidSpecError } from '../config/errors';
import { printable } from '../printable';
import { IdSet } from './id-set';

/** Largest id a spec may name. The API's ids stop at 10326 today; this only stops typos like 1-10000000000. */
export const MAX_ID = 1_000_000;

/** What a list of specs names: explicit ids, names, and whether `all` (every id the API lists) was asked for. */
export interface ParsedSpec {
  ids: IdSet;
  all: boolean;
  /** Names to look up in the API's list (lowercase, each once, in the order given). */
  names: string[];
}

/**
 * Parses what a user typed (`25`, `1-151`, `1-10,25,10001-10010`, `pikachu`, `all`, several
 * arguments) into sorted, de-duplicated ids, kept as ranges (`1-1000000` is one range, not a
 * million numbers), and the names to look up. Throws {@link InvalidSpecError} on the first bad
 * piece, naming it, before anything is enqueued. Names are only recognized here: whether a
 * Pokémon has that name is the name catalog's question (ids/name-catalog.ts).
 */
export function parseSpecs(specs: readonly string[]): ParsedSpec {
  const pieces = specs.flatMap((s) => s.split(',')).map((p) => p.trim());
  if (pieces.length === 0 || pieces.every((p) => p === '')) {
    throw new InvalidSpecError('no ids given: name ids like 25, a range like 1-151, a list like 1-10,25, or all');
  }
  const ranges: [number, number][] = [];
  const names = new Set<string>();
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
    if (isPokemonName(piece.toLowerCase())) {
      names.add(piece.toLowerCase());
      continue;
    }
    throw new InvalidSpecError(
      // Quoted as printable: a spec may come from a program, not a terminal, and hold anything.
      `"${printable(piece.slice(0, 80))}" is not an id, a range (1-151), a name (pikachu) or all; ids are positive whole numbers, names are letters, digits and hyphens`,
    );
  }
  return { ids: IdSet.fromRanges(ranges), all, names: [...names] };
}

/**
 * Whether `text` looks like a Pokémon name, as specs give them and the API's list names them:
 * a lowercase letter, then lowercase letters, digits and hyphens (`mr-mime`, `porygon2`,
 * `zygarde-10-power-construct`: every real name fits, the longest has 27 characters). Such a
 * name is safe to print and to use as a Redis hash field.
 */
export function isPokemonName(text: string): boolean {
  return /^[a-z][a-z0-9-]{0,63}$/.test(text);
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

/** What `get` looks a record up by: an id, or a name (`catalogName`: one the API's list could hold). */
export type RecordKey = { id: number } | { name: string; catalogName: boolean };

/**
 * An id (25, `'25'`) or a name (`'Pikachu'`, lowercased) to read a stored record by. Names of
 * stored records are what the API sent, up to 80 characters of letters, digits and `.'-`; a name
 * a spec could give (isPokemonName) can also be looked up in the API's list. Throws
 * InvalidSpecError for anything else, before anything is read.
 */
export function parseRecordKey(input: unknown): RecordKey {
  const key = typeof input === 'number' ? String(input) : typeof input === 'string' ? input.trim().toLowerCase() : undefined;
  if (key !== undefined && /^[1-9]\d{0,6}$/.test(key)) return { id: Number(key) };
  // Only text can be a name: a number that is no id (1.5, 0) is no name either.
  if (typeof input === 'string' && key && /^[a-z0-9][a-z0-9.'-]{0,79}$/.test(key) && !/^\d+$/.test(key)) return { name: key, catalogName: isPokemonName(key) };
  const shown = typeof input === 'string' ? `"${printable(input.slice(0, 80))}"` : typeof input === 'number' ? String(input) : `a ${typeof input}`;
  throw new InvalidSpecError(`${shown} is neither an id (a positive whole number) nor a Pokémon name`);
}
