/**
 * A set of Pokémon ids kept as sorted, disjoint ranges: `1-1000000` costs two numbers, not a
 * million, so a spec can name every id there is without the producer ever holding them all.
 */
export class IdSet {
  /** [from, to] inclusive, sorted, disjoint and not adjacent. */
  private constructor(private readonly ranges: readonly (readonly [number, number])[]) {}

  static readonly empty = new IdSet([]);

  /** From ranges in any order, overlapping or not. */
  static fromRanges(ranges: Iterable<readonly [number, number]>): IdSet {
    const sorted = [...ranges].filter(([a, b]) => a <= b).sort((x, y) => x[0] - y[0]);
    const out: [number, number][] = [];
    for (const [a, b] of sorted) {
      const last = out[out.length - 1];
      if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
      else out.push([a, b]);
    }
    return new IdSet(out);
  }

  static of(ids: Iterable<number>): IdSet {
    return IdSet.fromRanges([...ids].map((id) => [id, id] as const));
  }

  union(other: IdSet): IdSet {
    return IdSet.fromRanges([...this.ranges, ...other.ranges]);
  }

  get size(): number {
    return this.ranges.reduce((n, [a, b]) => n + b - a + 1, 0);
  }

  /** The ids in ascending order, `size` at a time at most. */
  *chunks(size: number): Generator<number[]> {
    let chunk: number[] = [];
    for (const [a, b] of this.ranges) {
      for (let id = a; id <= b; id++) {
        chunk.push(id);
        if (chunk.length === size) {
          yield chunk;
          chunk = [];
        }
      }
    }
    if (chunk.length) yield chunk;
  }

  /** Every id, ascending: for small sets (tests, a handful of ids). */
  toArray(): number[] {
    return [...this.chunks(Number.MAX_SAFE_INTEGER)].flat();
  }
}
