import type { ChainableCommander } from 'ioredis';
import type { PokemonRecord } from '../types';
import type { RedisClient } from '../redis/connection';
import { decodeRecord, encodeRecord, keysFor, type Keys } from '../redis/schema';

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
  }

  async put(record: PokemonRecord, rawGzipped?: Buffer): Promise<void> {
    const tx = this.redis.multi();
    this.queuePutMany(tx, [{ record, rawGzipped }]);
    for (const [err] of (await tx.exec()) ?? []) if (err) throw err;
  }

  /**
   * The writes of several `put`s as one HSET per hash, added to a transaction the caller executes
   * (the worker's group commit).
   */
  queuePutMany(tx: ChainableCommander, items: readonly { record: PokemonRecord; rawGzipped?: Buffer }[]): void {
    const records: string[] = [];
    const names: string[] = [];
    const raw: (string | Buffer)[] = [];
    for (const { record, rawGzipped } of items) {
      records.push(String(record.id), encodeRecord(record));
      names.push(record.name, String(record.id));
      if (rawGzipped) raw.push(String(record.id), rawGzipped);
    }
    tx.hset(this.keys.records, ...records);
    tx.hset(this.keys.names, ...names);
    if (raw.length) tx.hset(this.keys.raw, ...raw);
  }

  async has(id: number): Promise<boolean> {
    return (await this.redis.hexists(this.keys.records, String(id))) === 1;
  }

  async get(id: number): Promise<PokemonRecord | null> {
    const json = await this.redis.hget(this.keys.records, String(id));
    return json ? decodeRecord(json) : null;
  }

  async getByName(name: string): Promise<PokemonRecord | null> {
    const id = await this.redis.hget(this.keys.names, name.toLowerCase());
    return id ? this.get(Number(id)) : null;
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

  /** A page of records in id order, for the HTTP API. */
  async page(offset: number, limit: number): Promise<{ total: number; records: PokemonRecord[] }> {
    const ids = await this.ids();
    const slice = ids.slice(offset, offset + limit);
    const records = slice.length ? await this.getMany(slice) : [];
    return { total: ids.length, records };
  }

  /** Every record in id order, a chunk at a time, so export never holds the whole store in memory twice. */
  async *iterate(chunkSize = 500): AsyncGenerator<PokemonRecord> {
    const ids = await this.ids();
    for (let i = 0; i < ids.length; i += chunkSize) {
      for (const r of await this.getMany(ids.slice(i, i + chunkSize))) yield r;
    }
  }

  private async getMany(ids: number[]): Promise<PokemonRecord[]> {
    const values = await this.redis.hmget(this.keys.records, ...ids.map(String));
    return values.filter((v): v is string => v !== null).map(decodeRecord);
  }
}
