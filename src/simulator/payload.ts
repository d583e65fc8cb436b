/**
 * Synthetic `/api/v2/pokemon/{id}/` payloads for the simulator.
 *
 * Each payload has the real API's shape (same keys, same nesting, same key order) and a size drawn
 * from a distribution calibrated on the real API, but every value is invented: names are built
 * from syllables, never the real ones, and no real payload is copied. The same id and base URL
 * always give byte-identical JSON, because every choice comes from a PRNG seeded with the id.
 *
 * Why sizes matter: a payload is ~99 KB at the median and up to ~665 KB, 90% of it `moves`.
 * Throughput, memory and compression figures measured against the simulator only mean something
 * if the bytes on the wire look like the real ones.
 */

/** Ids the real API serves: the 1025 species, then 326 alternate forms. */
const LAST_SPECIES_ID = 1025;
const FIRST_FORM_ID = 10001;
const LAST_FORM_ID = 10326;
export const KNOWN_ID_COUNT = LAST_SPECIES_ID + (LAST_FORM_ID - FIRST_FORM_ID + 1);

/** The real API has no `base_experience` for these newest forms; the simulator mirrors that. */
const NULL_BASE_EXPERIENCE = { from: 10278, to: 10326 };

/**
 * Forms whose id is a multiple of this have no sprites at all (`front_default: null`), as some
 * real forms do, so clients exercise their "no sprite" path: 10025, 10050, ..., 10325.
 */
const SPRITELESS_FORM_EVERY = 25;

/** The one id whose payload is the largest, as Mew (#151) is for real. */
const LARGEST_ID = 151;
const LARGEST_BYTES = 665_000;

export function isKnownId(id: number): boolean {
  return (
    Number.isInteger(id) &&
    ((id >= 1 && id <= LAST_SPECIES_ID) || (id >= FIRST_FORM_ID && id <= LAST_FORM_ID))
  );
}

/** All known ids in the order the list endpoint pages them: 1..1025, then 10001..10326. */
export function knownIds(): number[] {
  const ids: number[] = [];
  for (let id = 1; id <= LAST_SPECIES_ID; id++) ids.push(id);
  for (let id = FIRST_FORM_ID; id <= LAST_FORM_ID; id++) ids.push(id);
  return ids;
}

// ---------------------------------------------------------------------------------------------
// Names. A species name is two consonant-vowel syllables plus a fixed suffix ("zokaling"); the
// syllable pair encodes the id through an affine scramble, so neighbouring ids do not look alike
// and the mapping can be inverted exactly. A form is named after a base species plus "-form";
// forms map to distinct base species, so form names are unique too.
// ---------------------------------------------------------------------------------------------

const SYLLABLES: string[] = [];
for (const c of 'bdgklmnprstvz') for (const v of 'aeiou') SYLLABLES.push(c + v);
const SYLLABLE_PAIRS = SYLLABLES.length * SYLLABLES.length; // 4225 ≥ 1025
const NAME_SUFFIX = 'ling';
const FORM_SUFFIX = '-form';
/** Affine scramble x → (x·MUL + ADD) mod SYLLABLE_PAIRS; MUL must be coprime to 4225 = 5²·13². */
const NAME_MUL = 2048;
const NAME_ADD = 1337;
const NAME_MUL_INVERSE = modInverse(NAME_MUL, SYLLABLE_PAIRS);
/** Form k (id 10000+k) belongs to species ((k·MUL + ADD) mod 1025) + 1; MUL coprime to 5²·41. */
const FORM_MUL = 7;
const FORM_ADD = 3;
const FORM_MUL_INVERSE = modInverse(FORM_MUL, LAST_SPECIES_ID);

const NAME_PATTERN = new RegExp(`^([a-z]{2})([a-z]{2})${NAME_SUFFIX}(${FORM_SUFFIX})?$`);

function modInverse(a: number, m: number): number {
  // Extended Euclid; the constants above are chosen coprime, so an inverse exists.
  let [oldR, r] = [a % m, m];
  let [oldS, s] = [1, 0];
  while (r !== 0) {
    const q = Math.floor(oldR / r);
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1) throw new Error(`${a} has no inverse modulo ${m}`);
  return ((oldS % m) + m) % m;
}

function mod(a: number, m: number): number {
  return ((a % m) + m) % m;
}

function speciesName(speciesId: number): string {
  const x = mod((speciesId - 1) * NAME_MUL + NAME_ADD, SYLLABLE_PAIRS);
  return SYLLABLES[Math.floor(x / SYLLABLES.length)] + SYLLABLES[x % SYLLABLES.length] + NAME_SUFFIX;
}

function speciesIdForForm(formId: number): number {
  return mod((formId - 10000) * FORM_MUL + FORM_ADD, LAST_SPECIES_ID) + 1;
}

/** The species an id belongs to: itself for 1–1025, a distinct base species for each form. */
export function speciesIdFor(id: number): number {
  return id >= FIRST_FORM_ID ? speciesIdForForm(id) : id;
}

/** The simulator's name for a known id; undefined for unknown ids. */
export function nameForId(id: number): string | undefined {
  if (!isKnownId(id)) return undefined;
  if (id <= LAST_SPECIES_ID) return speciesName(id);
  return speciesName(speciesIdForForm(id)) + FORM_SUFFIX;
}

/** Inverse of {@link nameForId}: the id a simulator name stands for, or undefined. */
export function idForName(name: string): number | undefined {
  const match = NAME_PATTERN.exec(name);
  if (!match) return undefined;
  const hi = SYLLABLES.indexOf(match[1]);
  const lo = SYLLABLES.indexOf(match[2]);
  if (hi < 0 || lo < 0) return undefined;
  const x = hi * SYLLABLES.length + lo;
  const speciesId = mod((x - NAME_ADD) * NAME_MUL_INVERSE, SYLLABLE_PAIRS) + 1;
  if (speciesId > LAST_SPECIES_ID) return undefined;
  if (!match[3]) return speciesId;
  const k = mod((speciesId - 1 - FORM_ADD) * FORM_MUL_INVERSE, LAST_SPECIES_ID);
  const formId = 10000 + k;
  return isKnownId(formId) && formId >= FIRST_FORM_ID ? formId : undefined;
}

// ---------------------------------------------------------------------------------------------
// Sizes. Each generation (and the forms) has its own distribution, because the real payloads
// shrink sharply with age: a Gen I species has moves in ~25 version groups, a Gen IX one in 2.
// Quantile knots in KB at p = 0, .10, .25, .50, .75, .90, 1, rounded from the real minified
// sizes; between knots the quantile function is interpolated in log space. Ids of a group get
// evenly spaced quantiles in a seeded order, so the group's distribution is hit exactly rather
// than sampled. The forms' lowest knots are lifted to ~9.5 KB (real forms without moves go down
// to 5 KB) so that no payload is smaller than the smallest species.
// ---------------------------------------------------------------------------------------------

const QUANTILE_POINTS = [0, 0.1, 0.25, 0.5, 0.75, 0.9, 1];

interface SizeGroup {
  from: number;
  to: number;
  /** Oldest generation whose games list this group (decides version groups and sprites). */
  generation: number;
  knotsKb: number[];
}

const SIZE_GROUPS: SizeGroup[] = [
  { from: 1, to: 151, generation: 1, knotsKb: [28, 221, 242, 270, 302, 346, 427] },
  { from: 152, to: 251, generation: 2, knotsKb: [22, 200, 220, 242, 264, 289, 362] },
  { from: 252, to: 386, generation: 3, knotsKb: [23, 171, 201, 225, 246, 277, 329] },
  { from: 387, to: 493, generation: 4, knotsKb: [26, 140, 158, 177, 200, 215, 309] },
  { from: 494, to: 649, generation: 5, knotsKb: [20, 91, 103, 116, 130, 143, 177] },
  { from: 650, to: 721, generation: 6, knotsKb: [18, 72, 80, 92, 104, 124, 143] },
  { from: 722, to: 809, generation: 7, knotsKb: [11, 41, 51, 59, 70, 83, 110] },
  { from: 810, to: 905, generation: 8, knotsKb: [9.6, 21, 26, 36, 44, 49, 62] },
  { from: 906, to: 1025, generation: 9, knotsKb: [12.5, 21, 23, 25, 29, 39, 50] },
  { from: 10001, to: 10326, generation: 6, knotsKb: [9.6, 12, 24, 41, 79, 110, 212] },
];

function groupFor(id: number): SizeGroup {
  const group = SIZE_GROUPS.find((g) => id >= g.from && id <= g.to);
  if (!group) throw new RangeError(`no size group for id ${id}`);
  return group;
}

function quantileBytes(knotsKb: number[], p: number): number {
  let i = 1;
  while (i < QUANTILE_POINTS.length - 1 && p > QUANTILE_POINTS[i]) i++;
  const [p0, p1] = [QUANTILE_POINTS[i - 1], QUANTILE_POINTS[i]];
  const [lo, hi] = [Math.log(knotsKb[i - 1]), Math.log(knotsKb[i])];
  const t = (p - p0) / (p1 - p0);
  return Math.round(Math.exp(lo + (hi - lo) * t) * 1000);
}

let targetSizes: Map<number, number> | undefined;

/** Target minified size in bytes for every known id, computed once (it is cheap). */
function targetBytes(id: number): number {
  if (!targetSizes) {
    targetSizes = new Map();
    for (const group of SIZE_GROUPS) {
      const ids: number[] = [];
      for (let i = group.from; i <= group.to; i++) if (i !== LARGEST_ID) ids.push(i);
      const rng = mulberry32(0x5eed0000 + group.from);
      shuffle(ids, rng);
      ids.forEach((gid, rank) => {
        targetSizes!.set(gid, quantileBytes(group.knotsKb, (rank + 0.5) / ids.length));
      });
    }
    targetSizes.set(LARGEST_ID, LARGEST_BYTES);
  }
  return targetSizes.get(id)!;
}

// ---------------------------------------------------------------------------------------------
// PRNG
// ---------------------------------------------------------------------------------------------

type Rng = () => number;

/** mulberry32: tiny, fast, good enough to make invented data look varied. */
function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function int(rng: Rng, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)];
}

function shuffle<T>(items: T[], rng: Rng): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
}

// ---------------------------------------------------------------------------------------------
// Vocabulary. Types, stats, version groups, versions and learn methods are the API's own fixed
// vocabulary (clients match on them, e.g. stat names); abilities, moves and items are invented.
// ---------------------------------------------------------------------------------------------

const TYPES = [
  'normal', 'fighting', 'flying', 'poison', 'ground', 'rock', 'bug', 'ghost', 'steel',
  'fire', 'water', 'grass', 'electric', 'psychic', 'ice', 'dragon', 'dark', 'fairy',
]; // type id = index + 1

const STATS = ['hp', 'attack', 'defense', 'special-attack', 'special-defense', 'speed'];

const GENERATIONS = [
  'generation-i', 'generation-ii', 'generation-iii', 'generation-iv', 'generation-v',
  'generation-vi', 'generation-vii', 'generation-viii', 'generation-ix',
];

/** [id, name, generation], in id order. */
const VERSION_GROUPS: [number, string, number][] = [
  [1, 'red-blue', 1], [2, 'yellow', 1], [3, 'gold-silver', 2], [4, 'crystal', 2],
  [5, 'ruby-sapphire', 3], [6, 'emerald', 3], [7, 'firered-leafgreen', 3],
  [8, 'diamond-pearl', 4], [9, 'platinum', 4], [10, 'heartgold-soulsilver', 4],
  [11, 'black-white', 5], [12, 'colosseum', 3], [13, 'xd', 3], [14, 'black-2-white-2', 5],
  [15, 'x-y', 6], [16, 'omega-ruby-alpha-sapphire', 6], [17, 'sun-moon', 7],
  [18, 'ultra-sun-ultra-moon', 7], [19, 'lets-go-pikachu-lets-go-eevee', 7],
  [20, 'sword-shield', 8], [23, 'brilliant-diamond-shining-pearl', 8], [24, 'legends-arceus', 8],
  [25, 'scarlet-violet', 9], [28, 'red-green-japan', 1], [29, 'blue-japan', 1], [32, 'champions', 9],
];

/** [id, name, generation] of the versions `game_indices` may list. */
const VERSIONS: [number, string, number][] = [
  [1, 'red', 1], [2, 'blue', 1], [3, 'yellow', 1], [4, 'gold', 2], [5, 'silver', 2],
  [6, 'crystal', 2], [7, 'ruby', 3], [8, 'sapphire', 3], [9, 'emerald', 3], [10, 'firered', 3],
  [11, 'leafgreen', 3], [12, 'diamond', 4], [13, 'pearl', 4], [14, 'platinum', 4],
  [15, 'heartgold', 4], [16, 'soulsilver', 4], [17, 'black', 5], [18, 'white', 5],
  [21, 'black-2', 5], [22, 'white-2', 5], [23, 'x', 6], [24, 'y', 6], [25, 'omega-ruby', 6],
  [26, 'alpha-sapphire', 6], [27, 'sun', 7], [28, 'moon', 7], [29, 'ultra-sun', 7],
  [30, 'ultra-moon', 7], [31, 'lets-go-pikachu', 7], [32, 'lets-go-eevee', 7], [33, 'sword', 8],
  [34, 'shield', 8], [35, 'the-isle-of-armor-sword', 8], [36, 'the-crown-tundra-sword', 8],
  [37, 'brilliant-diamond', 8], [38, 'shining-pearl', 8], [39, 'legends-arceus', 8],
  [40, 'scarlet', 9], [41, 'violet', 9], [42, 'the-teal-mask-scarlet', 9],
  [43, 'the-indigo-disk-scarlet', 9], [44, 'red-japan', 1], [45, 'green-japan', 1],
  [46, 'blue-japan', 1], [47, 'legends-za', 9], [48, 'mega-dimension', 9],
];

/** [id, name, weight]: how often each learn method appears in a move's details. */
const LEARN_METHODS: [number, string, number][] = [
  [1, 'level-up', 0.35], [2, 'egg', 0.1], [3, 'tutor', 0.12], [4, 'machine', 0.43],
];

/** Invented moves and abilities are numbered like the real ones (~950 moves, ~310 abilities). */
const MOVE_COUNT = 950;
const ABILITY_COUNT = 310;
const MOVE_WORDS = [
  'punch', 'kick', 'beam', 'wave', 'slash', 'strike', 'blast', 'storm',
  'fang', 'claw', 'dance', 'shield', 'burst', 'pulse', 'spin', 'drain',
];
const ABILITY_WORDS = ['aura', 'veil', 'guard', 'boost', 'sense', 'skin', 'call', 'force'];
const ITEMS: [number, string][] = [
  [132, 'sun-berry'], [133, 'moon-berry'], [210, 'river-stone'], [211, 'ember-shard'],
  [212, 'tide-pearl'], [213, 'quiet-bell'], [214, 'dust-cloak'], [215, 'iron-charm'],
];

function inventedName(n: number, words: readonly string[]): string {
  const x = mod(n * 97 + 11, SYLLABLE_PAIRS);
  return (
    SYLLABLES[Math.floor(x / SYLLABLES.length)] +
    SYLLABLES[x % SYLLABLES.length] +
    '-' +
    words[n % words.length]
  );
}

// ---------------------------------------------------------------------------------------------
// The payload
// ---------------------------------------------------------------------------------------------

interface NamedResource {
  name: string;
  url: string;
}

interface VersionGroupDetail {
  level_learned_at: number;
  move_learn_method: NamedResource;
  order: number | null;
  version_group: NamedResource;
}

interface MoveEntry {
  move: NamedResource;
  version_group_details: VersionGroupDetail[];
}

/**
 * The synthetic `/api/v2/pokemon/{id}/` payload for a known id, with every resource URL absolute
 * under `apiBaseUrl` (e.g. `http://127.0.0.1:3100/api/v2`) and sprite and cry URLs under
 * `{origin}/media/`, which the simulator does not serve (the real ones live on another host too).
 *
 * @throws RangeError for ids the API does not know (see {@link isKnownId}).
 */
export function syntheticPokemon(id: number, apiBaseUrl: string): object {
  if (!isKnownId(id)) throw new RangeError(`unknown pokemon id ${id}`);
  const api = apiBaseUrl.replace(/\/+$/, '');
  const media = `${new URL(api).origin}/media`;
  const ref = (kind: string, refId: number, name: string): NamedResource => ({
    name,
    url: `${api}/${kind}/${refId}/`,
  });

  const rng = mulberry32(Math.imul(id, 0x9e3779b1) ^ 0x0bad5eed);
  const isForm = id >= FIRST_FORM_ID;
  const speciesId = speciesIdFor(id);
  const group = groupFor(id);
  // Forms appear in the games of their own era, so they get version groups from then on.
  const generation = isForm ? int(rng, 6, 9) : group.generation;
  const versionGroups = VERSION_GROUPS.filter(([, , gen]) => gen >= generation);
  const versions = VERSIONS.filter(([, , gen]) => gen >= generation);

  const typeIds = [int(rng, 1, 18)];
  if (rng() < 0.5) {
    const second = int(rng, 1, 17);
    typeIds.push(second >= typeIds[0] ? second + 1 : second);
  }

  const abilities: { ability: NamedResource; is_hidden: boolean; slot: number }[] = [];
  const abilityIds = new Set<number>();
  const addAbility = (slot: number, hidden: boolean): void => {
    let abilityId = int(rng, 1, ABILITY_COUNT);
    while (abilityIds.has(abilityId)) abilityId = (abilityId % ABILITY_COUNT) + 1;
    abilityIds.add(abilityId);
    abilities.push({
      ability: ref('ability', abilityId, inventedName(abilityId, ABILITY_WORDS)),
      is_hidden: hidden,
      slot,
    });
  };
  addAbility(1, false);
  if (rng() < 0.5) addAbility(2, false);
  if (rng() < (isForm ? 0.4 : 0.8)) addAbility(3, true);

  const stats = STATS.map((stat, i) => ({
    base_stat: int(rng, 20, 90) + int(rng, 0, 70),
    effort: rng() < 0.25 ? int(rng, 1, 3) : 0,
    stat: ref('stat', i + 1, stat),
  }));

  const gameIndices = isForm
    ? []
    : versions
        .filter(() => rng() < 0.85)
        .map(([versionId, name, gen]) => ({
          game_index: gen === 1 ? int(rng, 1, 190) : id,
          version: ref('version', versionId, name),
        }));

  const heldItems =
    isForm || rng() > 0.2
      ? []
      : [pick(rng, ITEMS)].map(([itemId, name]) => ({
          item: ref('item', itemId, name),
          version_details: versions
            .filter(() => rng() < 0.5)
            .map(([versionId, vname]) => ({
              rarity: pick(rng, [5, 50, 100]),
              version: ref('version', versionId, vname),
            })),
        }));

  const pastAbilities =
    !isForm && generation <= 4 && rng() < 0.1
      ? [{ abilities: [{ ability: null, is_hidden: true, slot: 3 }], generation: ref('generation', 4, GENERATIONS[3]) }]
      : [];
  const pastTypes =
    !isForm && generation <= 5 && rng() < 0.04
      ? [{ generation: ref('generation', 5, GENERATIONS[4]), types: [{ slot: 1, type: ref('type', 1, TYPES[0]) }] }]
      : [];

  const name = nameForId(id)!;
  // Keys in the order the real API sends them (alphabetical); moves are filled in last.
  const payload = {
    abilities,
    base_experience:
      id >= NULL_BASE_EXPERIENCE.from && id <= NULL_BASE_EXPERIENCE.to ? null : int(rng, 36, 340),
    cries: {
      latest: `${media}/cries/pokemon/latest/${id}.ogg`,
      legacy: id <= 649 ? `${media}/cries/pokemon/legacy/${id}.ogg` : null,
    },
    forms: [ref('pokemon-form', id, name)],
    game_indices: gameIndices,
    height: int(rng, 2, 25) * (rng() < 0.1 ? 4 : 1),
    held_items: heldItems,
    id,
    is_default: !isForm,
    location_area_encounters: `${api}/pokemon/${id}/encounters`,
    moves: [] as MoveEntry[],
    name,
    // Like the real API: species in dex order, older forms after them, the newest unordered.
    order: isForm ? (id >= NULL_BASE_EXPERIENCE.from ? -1 : LAST_SPECIES_ID + (id - 10000)) : id,
    past_abilities: pastAbilities,
    past_stats: [] as unknown[],
    past_types: pastTypes,
    species: ref('pokemon-species', speciesId, speciesName(speciesId)),
    sprites: sprites(id, generation, isForm && id % SPRITELESS_FORM_EVERY === 0, rng() < 0.15, media),
    stats,
    types: typeIds.map((typeId, i) => ({ slot: i + 1, type: ref('type', typeId, TYPES[typeId - 1]) })),
    weight: int(rng, 10, 1500) * (rng() < 0.1 ? 5 : 1),
  };

  const budget = targetBytes(id) - JSON.stringify(payload).length;
  payload.moves = fillMoves(budget, rng, versionGroups, ref);
  return payload;
}

/** Size of a detail's JSON without its variable parts (level, order, the two resources). */
const DETAIL_OVERHEAD =
  JSON.stringify({
    level_learned_at: 0,
    move_learn_method: { name: '', url: '' },
    order: null,
    version_group: { name: '', url: '' },
  }).length - '0'.length - 'null'.length;
const MOVE_OVERHEAD = JSON.stringify({ move: { name: '', url: '' }, version_group_details: [] }).length;

/**
 * Moves whose minified JSON (with separating commas) fills about `budget` bytes, to within one
 * version-group detail. Older species have more details per move, as real ones do. Sizes are
 * computed from string lengths instead of stringifying each move: this loop builds ~150 MB of
 * JSON for all ids, and measuring it twice would double the simulator's cold-start time.
 */
function fillMoves(
  budget: number,
  rng: Rng,
  versionGroups: [number, string, number][],
  ref: (kind: string, id: number, name: string) => NamedResource,
): MoveEntry[] {
  const groupRefs = versionGroups.map(([vgId, name]) => ref('version-group', vgId, name));
  const methodRefs = LEARN_METHODS.map(([methodId, name]) => ref('move-learn-method', methodId, name));
  const refLength = (r: NamedResource): number => r.name.length + r.url.length;

  // ~19 KB of budget per detail-per-move gives ~75 moves at the median size and ~300 for the
  // largest payload, close to the real move counts; more bytes become more moves past 8 details.
  const meanDetails = Math.min(8, Math.max(1, budget / 19_000));
  const pool = Array.from({ length: MOVE_COUNT }, (_, i) => i + 1);
  const moves: { moveId: number; entry: MoveEntry }[] = [];
  let used = 0;
  for (let n = 0; n < pool.length && used < budget; n++) {
    // Partial Fisher-Yates: draw distinct move ids without shuffling the whole pool.
    const j = n + Math.floor(rng() * (pool.length - n));
    [pool[n], pool[j]] = [pool[j], pool[n]];
    const moveId = pool[n];
    const move = ref('move', moveId, inventedName(moveId, MOVE_WORDS));

    const count = Math.max(1, Math.round(meanDetails * (0.3 + 1.4 * rng())));
    const picks = Array.from({ length: count }, () => Math.floor(rng() * groupRefs.length)).sort((a, b) => a - b);
    const details: VersionGroupDetail[] = [];
    let size = (moves.length > 0 ? 1 : 0) + MOVE_OVERHEAD + refLength(move) - 1;
    for (const vg of picks) {
      const method = learnMethod(rng);
      const levelUp = LEARN_METHODS[method][1] === 'level-up';
      const level = levelUp ? int(rng, 1, 80) : 0;
      const order = levelUp && rng() < 0.1 ? int(rng, 1, 4) : null;
      const detailSize =
        DETAIL_OVERHEAD +
        String(level).length +
        (order === null ? 4 : String(order).length) +
        refLength(methodRefs[method]) +
        refLength(groupRefs[vg]);
      // The last move is cut to what still fits, so the total lands just under the target.
      if (used + size + detailSize + 1 > budget) break;
      details.push({
        level_learned_at: level,
        move_learn_method: methodRefs[method],
        order,
        version_group: groupRefs[vg],
      });
      size += detailSize + 1;
    }
    if (details.length === 0) break;
    moves.push({ moveId, entry: { move, version_group_details: details } });
    used += size;
  }
  return moves.sort((a, b) => a.moveId - b.moveId).map((m) => m.entry);
}

function learnMethod(rng: Rng): number {
  let r = rng();
  for (let i = 0; i < LEARN_METHODS.length; i++) {
    if (r < LEARN_METHODS[i][2]) return i;
    r -= LEARN_METHODS[i][2];
  }
  return LEARN_METHODS.length - 1;
}

/**
 * The sprite tree with the real nesting. Games older than the species' generation have null
 * sprites, female variants exist only for species with gender differences, and a sprite-less
 * form has nulls everywhere.
 */
function sprites(id: number, generation: number, none: boolean, female: boolean, media: string): object {
  const base = `${media}/sprites/pokemon`;
  const url = (gen: number, path: string, ext = 'png'): string | null =>
    none || gen < generation ? null : `${base}/${path}${path ? '/' : ''}${id}.${ext}`;
  const fem = (gen: number, path: string, ext = 'png'): string | null => (female ? url(gen, path, ext) : null);
  const v = (gen: string, game: string): string => `versions/${gen}/${game}`;

  const fourWay = (gen: number, path: string, ext = 'png') => ({
    front_default: url(gen, path, ext),
    front_female: fem(gen, `${path}/female`, ext),
    front_shiny: url(gen, `${path}/shiny`, ext),
    front_shiny_female: fem(gen, `${path}/shiny/female`, ext),
  });
  const eightWay = (gen: number, path: string, ext = 'png') => ({
    back_default: url(gen, `${path}/back`, ext),
    back_female: fem(gen, `${path}/back/female`, ext),
    back_shiny: url(gen, `${path}/back/shiny`, ext),
    back_shiny_female: fem(gen, `${path}/back/shiny/female`, ext),
    front_default: url(gen, path, ext),
    front_female: fem(gen, `${path}/female`, ext),
    front_shiny: url(gen, `${path}/shiny`, ext),
    front_shiny_female: fem(gen, `${path}/shiny/female`, ext),
  });
  const gen1 = (game: string) => ({
    back_default: url(1, `${v('generation-i', game)}/back`),
    back_gray: url(1, `${v('generation-i', game)}/back/gray`),
    back_transparent: url(1, `${v('generation-i', game)}/transparent/back`),
    front_default: url(1, v('generation-i', game)),
    front_gray: url(1, `${v('generation-i', game)}/gray`),
    front_transparent: url(1, `${v('generation-i', game)}/transparent`),
  });
  const gen2 = (game: string) => ({
    back_default: url(2, `${v('generation-ii', game)}/back`),
    back_shiny: url(2, `${v('generation-ii', game)}/back/shiny`),
    front_default: url(2, v('generation-ii', game)),
    front_shiny: url(2, `${v('generation-ii', game)}/shiny`),
    front_transparent: url(2, `${v('generation-ii', game)}/transparent`),
  });
  const twoWay = (gen: number, path: string) => ({
    front_default: url(gen, path),
    front_female: fem(gen, `${path}/female`),
  });

  return {
    ...eightWay(1, ''),
    other: {
      dream_world: { front_default: url(1, 'other/dream-world', 'svg'), front_female: null },
      home: fourWay(1, 'other/home'),
      'official-artwork': {
        front_default: url(1, 'other/official-artwork'),
        front_shiny: url(1, 'other/official-artwork/shiny'),
      },
      showdown: eightWay(1, 'other/showdown', 'gif'),
    },
    versions: {
      'generation-i': { 'red-blue': gen1('red-blue'), yellow: gen1('yellow') },
      'generation-ii': {
        crystal: {
          ...gen2('crystal'),
          back_shiny_transparent: url(2, `${v('generation-ii', 'crystal')}/transparent/back/shiny`),
          back_transparent: url(2, `${v('generation-ii', 'crystal')}/transparent/back`),
          front_shiny_transparent: url(2, `${v('generation-ii', 'crystal')}/transparent/shiny`),
        },
        gold: gen2('gold'),
        silver: gen2('silver'),
      },
      'generation-iii': {
        emerald: {
          front_default: url(3, v('generation-iii', 'emerald')),
          front_shiny: url(3, `${v('generation-iii', 'emerald')}/shiny`),
        },
        'firered-leafgreen': {
          back_default: url(3, `${v('generation-iii', 'firered-leafgreen')}/back`),
          back_shiny: url(3, `${v('generation-iii', 'firered-leafgreen')}/back/shiny`),
          front_default: url(3, v('generation-iii', 'firered-leafgreen')),
          front_shiny: url(3, `${v('generation-iii', 'firered-leafgreen')}/shiny`),
        },
        'ruby-sapphire': {
          back_default: url(3, `${v('generation-iii', 'ruby-sapphire')}/back`),
          back_shiny: url(3, `${v('generation-iii', 'ruby-sapphire')}/back/shiny`),
          front_default: url(3, v('generation-iii', 'ruby-sapphire')),
          front_shiny: url(3, `${v('generation-iii', 'ruby-sapphire')}/shiny`),
        },
      },
      'generation-iv': {
        'diamond-pearl': eightWay(4, v('generation-iv', 'diamond-pearl')),
        'heartgold-soulsilver': eightWay(4, v('generation-iv', 'heartgold-soulsilver')),
        platinum: eightWay(4, v('generation-iv', 'platinum')),
      },
      'generation-ix': { 'scarlet-violet': twoWay(9, v('generation-ix', 'scarlet-violet')) },
      'generation-v': {
        'black-white': {
          animated: eightWay(5, `${v('generation-v', 'black-white')}/animated`, 'gif'),
          ...eightWay(5, v('generation-v', 'black-white')),
        },
      },
      'generation-vi': {
        'omegaruby-alphasapphire': fourWay(6, v('generation-vi', 'omegaruby-alphasapphire')),
        'x-y': fourWay(6, v('generation-vi', 'x-y')),
      },
      'generation-vii': {
        icons: twoWay(7, v('generation-vii', 'icons')),
        'ultra-sun-ultra-moon': fourWay(7, v('generation-vii', 'ultra-sun-ultra-moon')),
      },
      'generation-viii': {
        'brilliant-diamond-shining-pearl': twoWay(8, v('generation-viii', 'brilliant-diamond-shining-pearl')),
        icons: twoWay(8, v('generation-viii', 'icons')),
      },
    },
  };
}
