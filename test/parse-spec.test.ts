import { InvalidSpecError } from '../src/config/errors';
import { IdSet } from '../src/ids/id-set';
import { editDistance, nearestNames } from '../src/ids/nearest-names';
import { MAX_ID, parseRecordKey, parseSpecs as parseToSet } from '../src/ids/parse-spec';

/** The parsed ids as an array, for comparing small sets (and the names, when there are some). */
const parseSpecs = (specs: string[]) => {
  const { ids, all, names } = parseToSet(specs);
  return names.length ? { ids: ids.toArray(), all, names } : { ids: ids.toArray(), all };
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

  it('recognizes names beside ids, lowercased and each once, leaving their lookup for later', () => {
    expect(parseSpecs(['pikachu', 'mewtwo', '1-3'])).toEqual({ ids: [1, 2, 3], all: false, names: ['pikachu', 'mewtwo'] });
    expect(parseSpecs(['Pikachu,mr-mime,porygon2', 'zygarde-10-power-construct,pikachu'])).toEqual({
      ids: [], all: false, names: ['pikachu', 'mr-mime', 'porygon2', 'zygarde-10-power-construct'],
    });
  });

  it.each([
    ['pika$chu', /"pika\$chu" is not an id, a range \(1-151\), a name \(pikachu\) or all/],
    ['pika chu', /not an id/],
    ['1-x', /not an id/],
    ['-pikachu', /not an id/],
    ['\u001b]0;x\u0007', /"\\x1b\]0;x\\x07" is not an id/],
    ['a'.repeat(65), /not an id/],
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
    expect(() => parseSpecs(['1-10', 'pikachu', 'x!'])).toThrow(InvalidSpecError);
  });

  it('rejects an empty argument list', () => {
    expect(() => parseSpecs([])).toThrow(/no ids given/);
  });
});

describe('what get looks a record up by', () => {
  it('takes ids as numbers or text, and names in any case', () => {
    expect(parseRecordKey(25)).toEqual({ id: 25 });
    expect(parseRecordKey(' 25 ')).toEqual({ id: 25 });
    expect(parseRecordKey('Pikachu')).toEqual({ name: 'pikachu', catalogName: true });
    // A stored record's name may be anything the API sent (within limits): found in the store only.
    expect(parseRecordKey("farfetch'd")).toEqual({ name: "farfetch'd", catalogName: false });
  });

  it.each([[0], [-1], [1.5], ['0'], ['../../etc/passwd'], [''], [null], [{}]])('rejects %j as neither an id nor a name', (input) => {
    expect(() => parseRecordKey(input)).toThrow(InvalidSpecError);
    expect(() => parseRecordKey(input)).toThrow(/is neither an id \(a positive whole number\) nor a Pokémon name/);
  });
});

describe('the names nearest to an unknown one', () => {
  const names = ['pikachu', 'pichu', 'raichu', 'mewtwo', 'mew', 'charmander', 'charmeleon', 'charizard', 'bulbasaur'];

  it('finds typos, swapped letters and abbreviations, nearest first', () => {
    expect(nearestNames('pikachuu', names)).toEqual(['pikachu']);
    expect(nearestNames('pikahcu', names)).toEqual(['pikachu']);
    expect(nearestNames('mewtoo', names)).toEqual(['mewtwo']);
    expect(nearestNames('charm', names)).toEqual(['charmander', 'charmeleon']);
    expect(nearestNames('pichuu', names)).toEqual(['pichu']);
    expect(nearestNames('raichu', ['raichu-alola', 'raichu'])).toEqual(['raichu-alola']);
  });

  it('suggests nothing rather than something unrelated', () => {
    expect(nearestNames('zzzzzz', names)).toEqual([]);
    expect(nearestNames('bulba', ['bulbasaur', 'ivysaur'])).toEqual(['bulbasaur']);
    expect(nearestNames('ab', names)).toEqual([]);
  });

  it('counts a swap of neighbours as one edit', () => {
    expect(editDistance('pikachu', 'pikahcu')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });
});
