import { InvalidSpecError } from '../src/config/errors';
import { MAX_ID, parseSpecs } from '../src/ids/parse-spec';

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
