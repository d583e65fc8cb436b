import { InvalidSpecError } from '../src/config/errors';
import { IdSet } from '../src/ids/id-set';
import { MAX_ID, parseSpecs as parseToSet } from '../src/ids/parse-spec';

/** The parsed ids as an array, for comparing small sets. */
const parseSpecs = (specs: string[]) => {
  const { ids, all } = parseToSet(specs);
  return { ids: ids.toArray(), all };
};

describe('id sets', () => {
  it('keep ranges, not ids: every id there is costs two numbers', () => {
    const all = IdSet.fromRanges([[1, MAX_ID]]);
    expect(all.size).toBe(MAX_ID);
    const first = all.chunks(5000).next().value!;
    expect(first).toHaveLength(5000);
    expect(first[4999]).toBe(5000);
  });

  it('merge overlapping and adjacent ranges, and hand out ascending chunks', () => {
    const set = IdSet.fromRanges([[10, 12], [1, 3], [4, 5], [11, 20], [30, 30]]);
    expect(set.size).toBe(17);
    expect([...set.chunks(8)]).toEqual([[1, 2, 3, 4, 5, 10, 11, 12], [13, 14, 15, 16, 17, 18, 19, 20], [30]]);
    expect(set.union(IdSet.of([2, 40])).toArray()).toEqual([1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 30, 40]);
    expect(IdSet.empty.size).toBe(0);
  });
});

describe('parsing what a user types as ids', () => {
  it('reads a single id', () => {
    expect(parseSpecs(['25'])).toEqual({ ids: [25], all: false });
  });

  it('expands a range inclusively', () => {
    const { ids } = parseSpecs(['1-151']);
    expect(ids).toHaveLength(151);
    expect(ids[0]).toBe(1);
    expect(ids[150]).toBe(151);
  });

  it('merges comma lists and several arguments, sorted and without duplicates', () => {
    expect(parseSpecs(['1-3,25', '2,10001-10002']).ids).toEqual([1, 2, 3, 25, 10001, 10002]);
  });

  it('accepts any positive id, even ones the API does not know', () => {
    expect(parseSpecs(['99999']).ids).toEqual([99999]);
  });

  it('recognizes all, alone or beside ids', () => {
    expect(parseSpecs(['all'])).toEqual({ ids: [], all: true });
    expect(parseSpecs(['ALL,5'])).toEqual({ ids: [5], all: true });
  });

  it('tolerates spaces around items', () => {
    expect(parseSpecs([' 1 - 3 '.replace(/ - /, '-'), ' 7 ']).ids).toEqual([1, 2, 3, 7]);
  });

  it.each([
    ['abc', /not an id/],
    ['0', /out of range/],
    ['-5', /not an id/],
    ['10-1', /backwards range/],
    ['1-', /not an id/],
    ['', /no ids given/],
    ['1,,2', /empty item/],
    ['1,', /empty item/],
    ['99999999999999999999', /out of range/],
    [String(MAX_ID + 1), /out of range/],
    ['1.5', /not an id/],
    ['1e3', /not an id/],
  ])('rejects %j with a message that says why', (spec, message) => {
    expect(() => parseSpecs([spec])).toThrow(InvalidSpecError);
    expect(() => parseSpecs([spec])).toThrow(message);
  });

  it('rejects a whole list when one piece is bad, so nothing is half-enqueued', () => {
    expect(() => parseSpecs(['1-10', 'x'])).toThrow(InvalidSpecError);
  });

  it('rejects an empty argument list', () => {
    expect(() => parseSpecs([])).toThrow(/no ids given/);
  });
});
