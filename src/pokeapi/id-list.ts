import type { PokemonList } from '../ids/name-catalog';
import { idProblem, isPokemonName, MAX_ID } from '../ids/parse-spec';

export type { PokemonList };
import { BadListError } from './errors';
import { sample } from './fetch-policy';

/**
 * What `enqueue all` accepts from the API's paged list endpoint (`/pokemon/?offset=&limit=`).
 * The list decides which URLs the producer requests next and which ids become jobs, so nothing
 * in it is taken on trust:
 * - `next` is followed only under the configured API (same scheme, host and port, and under
 *   POKEAPI_URL's `/pokemon/` path): a list that points elsewhere would make the producer request
 *   any host, internal ones included;
 * - a `next` seen before is a loop, and there are at most {@link LIST_MAX_PAGES} pages;
 * - every entry must name an id that a typed spec could name (`idProblem`), at most
 *   {@link MAX_ID} entries in all.
 * Any violation throws {@link BadListError}, naming what the API sent.
 *
 * Each entry's `name` is kept too (names in specs are looked up in this list), when it looks like
 * a name a spec could give (`isPokemonName`: so a name printed among suggestions is never
 * terminal junk) and for at most {@link LIST_MAX_NAMES} entries. A name the list gives twice
 * stays with the lower id, as in the store. An entry without a usable name still counts for `all`.
 */

/** Pages followed at most: at the 1000 ids a page that `all` asks for, enough for every id up to MAX_ID. */
export const LIST_MAX_PAGES = 1000;
/** Names kept at most: 1351 today; this bounds the memory (and the Redis cache) a hostile list can cost. */
export const LIST_MAX_NAMES = 100_000;


export class IdListReader {
  private readonly base: URL;
  private readonly seen = new Set<string>();
  private readonly ids = new Set<number>();
  private readonly names = new Map<string, number>();
  private entries = 0;

  constructor(baseUrl: string) {
    this.base = new URL(`${baseUrl}/pokemon/`);
  }

  /** The first page's URL. */
  first(pageSize: number): string {
    return this.follow(`${this.base.href}?offset=0&limit=${pageSize}`, this.base.href);
  }

  /** Takes one page's ids; returns the URL of the next page, or null at the end. */
  read(page: unknown, pageUrl: string): string | null {
    const where = `page ${this.seen.size} (${pageUrl})`;
    if (typeof page !== 'object' || page === null || Array.isArray(page)) throw this.bad(`${where} is not a JSON object`, page);
    const { results, next } = page as { results?: unknown; next?: unknown };
    if (!Array.isArray(results)) throw this.bad(`${where} has no "results" list`, page);
    for (const [i, entry] of results.entries()) {
      const url = (entry as { url?: unknown } | null)?.url;
      if (typeof url !== 'string') throw this.bad(`entry ${i} of ${where} has no "url"`, entry);
      const segment = /\/pokemon\/([^/?#]*)\/?$/.exec(url)?.[1];
      if (segment === undefined) throw this.bad(`entry ${i} of ${where} is not a /pokemon/{id}/ URL`, url);
      const problem = idProblem(segment);
      if (problem) throw this.bad(`entry ${i} of ${where} names id "${sample(segment)}": ${problem}`, url);
      if (++this.entries > MAX_ID) throw new BadListError(`the list endpoint names more than ${MAX_ID} ids`);
      const id = Number(segment);
      this.ids.add(id);
      const name = (entry as { name?: unknown }).name;
      if (typeof name === 'string' && isPokemonName(name) && this.names.size < LIST_MAX_NAMES) {
        const held = this.names.get(name);
        if (held === undefined || id < held) this.names.set(name, id);
      }
    }
    if (next === null || next === undefined) return null;
    if (typeof next !== 'string') throw this.bad(`${where} has a "next" that is not a URL`, next);
    return this.follow(next, pageUrl);
  }

  /** What was read so far: the ids in ascending order, and the names. */
  list(): PokemonList {
    return { ids: [...this.ids].sort((a, b) => a - b), names: this.names };
  }

  private follow(next: string, from: string): string {
    let url: URL;
    try {
      url = new URL(next, from);
    } catch {
      throw this.bad(`the list's "next" is not a URL`, next);
    }
    // `/pokemon/` itself, or the same without its slash (`/pokemon?offset=20`, as some servers write it).
    const under = url.pathname.startsWith(this.base.pathname) || url.pathname === this.base.pathname.slice(0, -1);
    if (url.origin !== this.base.origin || !under) {
      throw this.bad(`the list's "next" points outside ${this.base.href} (not followed)`, next);
    }
    if (this.seen.has(url.href)) throw this.bad(`the list's "next" points back to a page already read (a loop)`, next);
    if (this.seen.size >= LIST_MAX_PAGES) throw new BadListError(`the list endpoint has more than ${LIST_MAX_PAGES} pages`);
    this.seen.add(url.href);
    return url.href;
  }

  private bad(what: string, sent: unknown): BadListError {
    let shown: string;
    try {
      shown = typeof sent === 'string' ? sent : (JSON.stringify(sent) ?? String(sent));
    } catch {
      shown = String(sent);
    }
    return new BadListError(`${what}; it sent: ${sample(shown)}`);
  }
}
