import type { ChainableCommander } from 'ioredis';
import type { PokemonRecord } from '../types';
import type { RedisClient } from '../redis/connection';
import { decodeRecord, encodeRecord, keysFor, type Keys } from '../redis/schema';
import { defineScript } from '../redis/scripts';
import { MAX_ID } from '../ids/parse-spec';

type WithClaim = { pokequeueClaimNames(names: string, records: string, ...pairs: string[]): unknown };
type WithScan = { pokequeueScanRecordIds(records: string, cursor: string, count: number): Promise<string[]> };

/** Fields per scan-record-ids call: one round trip per this many records, each call O(this) in Redis. */
const SCAN_COUNT = 2000;

/**
 * Where records live: Redis hashes under QUEUE_PREFIX. Writing is idempotent: the same id always
 * lands in the same field, so a job that runs twice leaves one record, the later one.
 */
export class RecordStore {
  private readonly keys: Keys;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.keys = keysFor(prefix);
    // Names go through claim-names.lua, so one payload cannot take another record's name. Measured:
    // 13-18 µs of Redis time per group commit of 3 records, against 4 µs for the plain HSET of
    // names it replaces; it is one call per group, whatever its size.
    defineScript(redis, 'pokequeueClaimNames', 'claim-names', 2);
    defineScript(redis, 'pokequeueScanRecordIds', 'scan-record-ids', 1);
  }

  async put(record: PokemonRecord, rawGzipped?: Buffer): Promise<void> {
    const tx = this.redis.multi();
    this.queuePutMany(tx, [{ record, rawGzipped }]);
    for (const [err] of (await tx.exec()) ?? []) if (err) throw err;
  }

  /**
   * The writes of several `put`s as one HSET per hash and one claim of their names, added to a
   * transaction the caller executes.
   */
  queuePutMany(tx: ChainableCommander, items: readonly { record: PokemonRecord; rawGzipped?: Buffer }[]): void {
    const { writes, names } = this.encodeMany(items);
    for (const [key, fields] of writes) tx.hset(key, ...fields);
    (tx as unknown as WithClaim).pokequeueClaimNames(this.keys.names, this.keys.records, ...names);
  }

  /**
   * Several records (and their raw payloads) as the store writes them: one HSET per hash, and
   * their names as (name, id) pairs, to be claimed once the records are written (claim-names, or
   * the worker's commit-group, in {@link namesKeys}).
   */
  encodeMany(items: readonly { record: PokemonRecord; rawGzipped?: Buffer }[]): { writes: [key: string, fields: (string | Buffer)[]][]; names: string[] } {
    const fields: string[] = [];
    const names: string[] = [];
    const raw: (string | Buffer)[] = [];
    for (const { record, rawGzipped } of items) {
      const id = String(record.id);
      fields.push(id, encodeRecord(record));
      names.push(record.name, id);
      if (rawGzipped) raw.push(id, rawGzipped);
    }
    const writes: [string, (string | Buffer)[]][] = [];
    if (fields.length) writes.push([this.keys.records, fields]);
    if (raw.length) writes.push([this.keys.raw, raw]);
    return { writes, names };
  }

  /** The hashes a claim of names reads and writes: the names, and the records they point at. */
  get namesKeys(): { names: string; records: string } {
    return { names: this.keys.names, records: this.keys.records };
  }

  async get(id: number): Promise<PokemonRecord | null> {
    const json = await this.redis.hget(this.keys.records, String(id));
    return json ? decodeRecord(json) : null;
  }

  /** The record that carries this name, or null; a name whose record now carries another (renamed since) finds nothing. */
  async getByName(name: string): Promise<PokemonRecord | null> {
    const key = name.toLowerCase();
    const id = await this.redis.hget(this.keys.names, key);
    const record = id ? await this.get(Number(id)) : null;
    return record && record.name.toLowerCase() === key ? record : null;
  }

  /** An id (`25`) or a name (`pikachu`). */
  async lookup(idOrName: string): Promise<PokemonRecord | null> {
    return /^\d+$/.test(idOrName) ? this.get(Number(idOrName)) : this.getByName(idOrName);
  }

  async count(): Promise<number> {
    return this.redis.hlen(this.keys.records);
  }

  async rawPayload(id: number): Promise<Buffer | null> {
    return this.redis.hgetBuffer(this.keys.raw, String(id));
  }

  /** Stored ids in ascending order. */
  async ids(): Promise<number[]> {
    const ids = (await this.redis.hkeys(this.keys.records)).map(Number);
    return ids.sort((a, b) => a - b);
  }

  /**
   * A page of records in id order, for the HTTP API: at most `limit` records and, past the first,
   * at most `maxBytes` of record JSON (sizes are asked first, so an oversized page is never read).
   */
  async page(offset: number, limit: number, maxBytes = Infinity): Promise<{ total: number; records: PokemonRecord[] }> {
    const ids = await this.ids();
    let slice = ids.slice(offset, offset + limit);
    if (slice.length > 1 && Number.isFinite(maxBytes)) {
      const pipe = this.redis.pipeline();
      for (const id of slice) pipe.hstrlen(this.keys.records, String(id));
      const sizes = ((await pipe.exec()) ?? []).map(([err, n]) => {
        if (err) throw err;
        return n as number;
      });
      let bytes = sizes[0]!;
      let n = 1;
      while (n < slice.length && bytes + sizes[n]! <= maxBytes) bytes += sizes[n++]!;
      slice = slice.slice(0, n);
    }
    const records = slice.length ? await this.getMany(slice) : [];
    return { total: ids.length, records };
  }

  /**
   * Every record in id order, `chunkSize` at a time (one HMGET each), in fixed memory whatever the
   * store holds: `export` and the library's `records()`.
   *
   * Order needs every id before the first record, and HKEYS would answer them in one reply (a
   * million ids: tens of MB of strings, and Redis busy for the whole of it). Instead the ids are
   * scanned a few thousand at a time (scan-record-ids.lua: HSCAN in Redis, ids only on the wire)
   * into a bitmap of every id a record can have (1 to MAX_ID: 125 KB, the same for 10 records
   * as for a million), which is then read in order. Records stored during the scan may or may
   * not be included; every record present throughout is, once.
   * Measured (200,000 records of ~650 B, loopback): with the heap capped at 16 MB
   * (`--max-old-space-size=16`) this streams them all, where HKEYS first ran out of memory. The
   * price is time before the first record: 0.8-1.3 s of scanning (Redis reads each value it
   * skips), against 0.25-0.4 s for HKEYS; 1.8-2.6 s in all against 1.1-1.6 s. 1351 records: one
   * call either way.
   */
  async *iterate(chunkSize = 500): AsyncGenerator<PokemonRecord> {
    const present = new Uint8Array((MAX_ID >> 3) + 1);
    const scan = this.redis as unknown as WithScan;
    let cursor = '0';
    do {
      const [next, ...fields] = await scan.pokequeueScanRecordIds(this.keys.records, cursor, SCAN_COUNT);
      for (const field of fields) {
        // Only pokequeue's own fields (ids a job can have); anything else someone put there is not a record.
        if (!/^[1-9]\d{0,6}$/.test(field)) continue;
        const id = Number(field);
        if (id <= MAX_ID) present[id >> 3] |= 1 << (id & 7);
      }
      cursor = next!;
    } while (cursor !== '0');
    let chunk: number[] = [];
    for (let byte = 0; byte < present.length; byte++) {
      const bits = present[byte];
      if (bits === 0) continue;
      for (let bit = 0; bit < 8; bit++) {
        if ((bits & (1 << bit)) === 0) continue;
        chunk.push(byte * 8 + bit);
        if (chunk.length === chunkSize) {
          yield* await this.getMany(chunk);
          chunk = [];
        }
      }
    }
    if (chunk.length) yield* await this.getMany(chunk);
  }

  private async getMany(ids: number[]): Promise<PokemonRecord[]> {
    const values = await this.redis.hmget(this.keys.records, ...ids.map(String));
    return values.filter((v): v is string => v !== null).map(decodeRecord);
  }
}
