import { UnknownNameError } from '../config/errors';
import type { RedisClient } from '../redis/connection';
import { CATALOG_FIELD, isCatalogMetaField, keysFor } from '../redis/schema';
import { nearestNames } from './nearest-names';

/** What the list endpoint names: every id, ascending, and the name → id of those with a name. */
export interface PokemonList {
  ids: number[];
  names: Map<string, number>;
}

/** Where the catalog's list comes from: the API's list endpoint (the hardened reader, pokeapi/id-list.ts). */
export interface NameSource {
  /** The API the list is read from (POKEAPI_URL): a catalog read from another API is not used. */
  readonly url: string;
  /** Reads the whole list; throws BadListError or PokeApiUnavailableError (pokeapi/errors.ts). */
  list(): Promise<PokemonList>;
}

/**
 * An unknown name makes one catalog read the list again at most this often: within one command
 * (one catalog) that is once, and a long-running program does not ask the API on every typo.
 */
export const CATALOG_REFRESH_MIN_INTERVAL_MS = 5 * 60_000;

/** Names per HSET when the catalog is written (one MULTI for all of them). */
const WRITE_CHUNK = 1000;

/**
 * Names in specs (`pikachu`), resolved to ids through the API's list endpoint. The list is read
 * once and kept in Redis (`<p>:name-catalog`, schema.ts), so every process and every later
 * command shares it without asking the API. The API's list grows with its releases, so a name
 * the catalog does not know makes it read the list again, at most once per
 * {@link CATALOG_REFRESH_MIN_INTERVAL_MS}; a name still unknown then is an
 * {@link UnknownNameError} naming the nearest known names, before anything is enqueued.
 * Reading `all` goes through here too: that list is fresh, so it replaces the catalog.
 */
export class NameCatalog {
  private readonly key: string;
  private lastRead = -Infinity;
  private reading: Promise<PokemonList> | undefined;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly source: NameSource,
    private readonly clock: () => number = Date.now,
  ) {
    this.key = keysFor(prefix).nameCatalog;
  }

  /** The id of each name, in order. Throws UnknownNameError naming every name no Pokémon has. */
  async resolve(names: readonly string[]): Promise<number[]> {
    if (names.length === 0) return [];
    const found = await this.cached(names);
    let fresh: PokemonList | undefined;
    if (names.some((n) => !found.has(n)) && (this.reading || this.clock() - this.lastRead >= CATALOG_REFRESH_MIN_INTERVAL_MS)) {
      fresh = await this.read();
      for (const n of names) {
        const id = fresh.names.get(n);
        if (id !== undefined) found.set(n, id);
      }
    }
    const unknown = names.filter((n) => !found.has(n));
    if (unknown.length) {
      const known = fresh ? [...fresh.names.keys()] : await this.knownNames();
      throw new UnknownNameError(unknown.map((name) => ({ name, nearest: nearestNames(name, known) })));
    }
    return names.map((n) => found.get(n)!);
  }

  /** Every id the API lists, read now (what `all` means); the catalog is replaced by this read. */
  async allIds(): Promise<number[]> {
    return (await this.read()).ids;
  }

  /** One read of the list at a time; what it finds replaces the catalog. */
  private read(): Promise<PokemonList> {
    this.reading ??= (async () => {
      try {
        const list = await this.source.list();
        await this.save(list);
        this.lastRead = this.clock();
        return list;
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }

  /** Replaces the catalog in one transaction: readers see the old one or the new one, never half. */
  private async save(list: PokemonList): Promise<void> {
    const tx = this.redis.multi().del(this.key).hset(this.key, CATALOG_FIELD.source, this.source.url, CATALOG_FIELD.fetchedAt, String(this.clock()));
    let pairs: string[] = [];
    for (const [name, id] of list.names) {
      pairs.push(name, String(id));
      if (pairs.length === 2 * WRITE_CHUNK) {
        tx.hset(this.key, ...pairs);
        pairs = [];
      }
    }
    if (pairs.length) tx.hset(this.key, ...pairs);
    for (const [err] of (await tx.exec()) ?? []) if (err) throw err;
  }

  /** The ids the catalog in Redis has for `names` (one HMGET); none when it was read from another API. */
  private async cached(names: readonly string[]): Promise<Map<string, number>> {
    const [source, ...ids] = await this.redis.hmget(this.key, CATALOG_FIELD.source, ...names);
    const found = new Map<string, number>();
    if (source !== this.source.url) return found;
    names.forEach((n, i) => {
      const id = ids[i];
      if (id) found.set(n, Number(id));
    });
    return found;
  }

  private async knownNames(): Promise<string[]> {
    const [source] = await this.redis.hmget(this.key, CATALOG_FIELD.source);
    if (source !== this.source.url) return [];
    return (await this.redis.hkeys(this.key)).filter((f) => !isCatalogMetaField(f));
  }
}
