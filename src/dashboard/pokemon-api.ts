import { Router } from 'express';
import type { RecordStore } from '../store/record-store';
import { HttpError } from './http-errors';

/** Page size when `limit` is not given, and the most one request may ask for. */
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;
/**
 * Most bytes of records one page carries, past its first record. A real record is under 1 KB, so
 * a full page of 1000 fits; without it a store with oversized records answered a 44 MB page,
 * whose serialization held up every other request (health checks included) for a second.
 */
export const PAGE_MAX_BYTES = 1024 * 1024;
/** Ids are positive 32-bit integers: anything longer is a typo, not a Pokémon. */
const MAX_ID = 2_147_483_647;
/** PokeAPI names: lowercase letters, digits and hyphens (`mr-mime`, `porygon-z`, `ho-oh`). */
const NAME = /^[a-z0-9][a-z0-9-]{0,99}$/;

/**
 * The stored records over HTTP:
 * - `GET /api/pokemon/:idOrName` → the record, 404 when not stored;
 * - `GET /api/pokemon?offset=&limit=` → `{ total, offset, limit, records, next }` in id order;
 *   a page holds at most `limit` records and about PAGE_MAX_BYTES, so follow `next`.
 * Bad parameters are a 400 with a JSON `{ error }` saying what is wrong.
 */
export function pokemonApi(store: RecordStore): Router {
  const router = Router();

  router.get('/', async (req, res) => {
    const offset = queryInt(req.query.offset, 'offset', 0, 0, MAX_ID);
    const limit = queryInt(req.query.limit, 'limit', DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE);
    const { total, records } = await store.page(offset, limit, PAGE_MAX_BYTES);
    const after = offset + records.length;
    const next = after < total && records.length > 0 ? `${req.baseUrl}?offset=${after}&limit=${limit}` : null;
    res.json({ total, offset, limit, records, next });
  });

  router.get('/:idOrName', async (req, res) => {
    const key = parseIdOrName(req.params.idOrName);
    const record = await store.lookup(key);
    if (!record) {
      const hint = /^\d+$/.test(key) ? ` (fetch it with: pokequeue enqueue ${key} --wait)` : '';
      throw new HttpError(404, `no stored Pokémon "${key}"${hint}`);
    }
    res.json(record);
  });

  return router;
}

/** A positive id (`25`) or a name (`Pikachu` → `pikachu`); anything else is a 400. */
export function parseIdOrName(raw: string): string {
  const value = raw.trim().toLowerCase();
  if (/^\d+$/.test(value)) {
    const id = Number(value);
    if (id < 1 || id > MAX_ID) throw new HttpError(400, `id must be from 1 to ${MAX_ID} (got "${raw}")`);
    return String(id);
  }
  if (!NAME.test(value)) {
    throw new HttpError(400, `expected a Pokémon id (25) or name (pikachu): letters, digits and hyphens (got "${raw.slice(0, 100)}")`);
  }
  return value;
}

function queryInt(raw: unknown, name: string, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  if (typeof raw !== 'string' || !/^\d{1,10}$/.test(raw.trim()) || Number(raw) < min || Number(raw) > max) {
    const shown = typeof raw === 'string' ? `"${raw.slice(0, 50)}"` : 'several values';
    throw new HttpError(400, `${name} must be a whole number from ${min} to ${max} (got ${shown})`);
  }
  return Number(raw);
}
