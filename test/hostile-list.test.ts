import type { IncomingMessage } from 'node:http';
import { json, startHostileApi, type Answer, type HostileApi } from './helpers/hostile-api';
import { runCli } from './helpers/processes';
import { startTestRedis, type TestRedis } from './helpers/redis';

/**
 * `enqueue all` against a list endpoint that cannot be trusted (issue 11): the list decides which
 * URLs the producer requests and which ids become jobs. Every violation is one clear line naming
 * what the API sent, exit 2, and nothing in Redis: no job, no batch.
 */
describe('enqueue all against a hostile list endpoint', () => {
  let redis: TestRedis;
  let api: HostileApi;
  let elsewhere: HostileApi;
  let n = 0;

  const offsetOf = (req: IncomingMessage) => Number(new URL(req.url!, 'http://x').searchParams.get('offset') ?? 0);
  const entries = (ids: (number | string)[]) => ids.map((id) => ({ name: `p${id}`, url: `${api.url}/pokemon/${id}/` }));
  /** A list whose page at `offset` is `page(offset)`. */
  const list = (page: (offset: number) => unknown): Answer => (req, res) => json(res, 200, page(offsetOf(req)), 'gzip');

  async function enqueueAll(answer: Answer) {
    api.fallback = answer;
    const prefix = `list${++n}`;
    const before = api.requests.length;
    const r = await runCli(['enqueue', 'all'], { REDIS_URL: redis.url, POKEAPI_URL: api.url, QUEUE_PREFIX: prefix, LOG_LEVEL: 'warn' }, 60_000);
    return { ...r, prefix, requests: api.requests.slice(before), keys: await redis.client.keys(`${prefix}:*`) };
  }

  beforeAll(async () => {
    redis = await startTestRedis();
    api = await startHostileApi();
    elsewhere = await startHostileApi();
  });
  afterAll(async () => {
    await api?.close();
    await elsewhere?.close();
    await redis?.stop();
  });

  it('enqueues every id of a well-formed list of two pages (the test can pass)', async () => {
    const r = await enqueueAll(list((offset) => ({
      count: 3,
      next: offset === 0 ? `${api.url}/pokemon?offset=1000&limit=1000` : null, // without the slash, as some servers write it
      results: entries(offset === 0 ? [1, 2] : [10001]),
    })));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/3 requested, 3 added/);
    expect(r.requests.map((q) => q.url)).toEqual(['/api/v2/pokemon/?offset=0&limit=1000', '/api/v2/pokemon?offset=1000&limit=1000']);
  });

  describe.each([
    ['a next that points to itself', list(() => ({ next: `${api.url}/pokemon/?offset=0&limit=1000`, results: entries([1]) })),
      /the list's "next" points back to a page already read \(a loop\); it sent: http:\/\/127\.0\.0\.1:\d+\/api\/v2\/pokemon\/\?offset=0&limit=1000/],
    ['a next that cycles through two pages', list((offset) => ({ next: `${api.url}/pokemon/?offset=${offset === 0 ? 1 : 0}&limit=1000`, results: entries([1]) })),
      /points back to a page already read \(a loop\)/],
    ['a next on another origin', list(() => ({ next: `${elsewhere.url}/pokemon/?offset=1000&limit=1000`, results: entries([1]) })),
      /the list's "next" points outside http:\/\/127\.0\.0\.1:\d+\/api\/v2\/pokemon\/ \(not followed\); it sent: http:\/\/127\.0\.0\.1:\d+\/api\/v2\/pokemon/],
    ['a next on an internal host', list(() => ({ next: 'http://169.254.169.254/latest/meta-data/', results: entries([1]) })),
      /points outside .* \(not followed\); it sent: http:\/\/169\.254\.169\.254\/latest\/meta-data\//],
    ['a next on the same host but another path', list(() => ({ next: `${api.origin}/admin?x=/pokemon/`, results: entries([1]) })),
      /points outside .*\(not followed\)/],
    ['a next on a path that only starts like the list\'s', list(() => ({ next: `${api.url}/pokemonevil/?offset=1000`, results: entries([1]) })),
      /points outside .*\(not followed\)/],
    ['more pages than any list of ids can need', list((offset) => ({ next: `${api.url}/pokemon/?offset=${offset + 1}&limit=1`, results: entries([offset + 1]) })),
      /the list endpoint has more than 1000 pages/],
    ['more than 1,000,000 ids', list((offset) => ({
      next: `${api.url}/pokemon/?offset=${offset + 60_000}&limit=60000`,
      results: Array.from({ length: 60_000 }, (_, i) => ({ url: `/pokemon/${((offset + i) % 1_000_000) + 1}/` })),
    })), /the list endpoint names more than 1000000 ids/],
    ['id 0', list(() => ({ next: null, results: entries([1, 0]) })), /entry 1 of page 1 .* names id "0": ids go from 1 to 1000000; it sent: http.*\/pokemon\/0\//],
    ['id 1e+23', list(() => ({ next: null, results: entries(['1e+23']) })), /entry 0 of page 1 .* names id "1e\+23": ids are positive whole numbers/],
    ['id 2000000000', list(() => ({ next: null, results: entries([2_000_000_000]) })), /names id "2000000000": ids go from 1 to 1000000/],
    ['a null entry', list(() => ({ next: null, results: [...entries([1]), null] })), /entry 1 of page 1 .* has no "url"; it sent: null/],
    ['an entry that is not a /pokemon/{id}/ URL', list(() => ({ next: null, results: [{ url: 'http://x/berry/1/' }] })), /is not a \/pokemon\/\{id\}\/ URL; it sent: http:\/\/x\/berry\/1\//],
    ['no results list', list(() => ({ next: null, results: 'all of them' })), /page 1 .* has no "results" list; it sent: \{"next":null,"results":"all of them"\}/],
    ['a next that is not a string', list(() => ({ next: { href: 'x' }, results: entries([1]) })), /has a "next" that is not a URL; it sent: \{"href":"x"\}/],
    ['escape sequences in what it sent', list(() => ({ next: null, results: [{ url: '/pokemon/\u001b]0;pwned\u0007/' }] })), /names id "\\x1b\]0;pwned\\x07"/],
    ['a 404 for the list', (_q, res) => json(res, 404, { detail: 'Not found.' }), /the list endpoint http.* answered 404/],
    ['a list page over HTTP_MAX_WIRE_BYTES', (_q, res) => json(res, 200, { results: [], pad: 'x'.repeat(5 << 20) }), /the list endpoint http.*: response body is larger than HTTP_MAX_WIRE_BYTES/],
  ] as [string, Answer, RegExp][])('with %s', (_what, answer, message) => {
    let r: Awaited<ReturnType<typeof enqueueAll>>;
    beforeAll(async () => {
      const elsewhereBefore = elsewhere.requests.length;
      r = await enqueueAll(answer);
      expect(elsewhere.requests.length).toBe(elsewhereBefore);
    }, 60_000);

    it('exits 2 with one line naming what the API sent', () => {
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^error: cannot list every id from http:\/\/127\.0\.0\.1:\d+\/api\/v2: /);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\u001b/);
    });

    it('enqueues nothing: no job and no batch in Redis', () => {
      expect(r.keys).toEqual([]);
    });

    it('requests only the configured API', () => {
      for (const q of r.requests) expect(q.url).toMatch(/^\/api\/v2\/pokemon\/?\?/);
    });
  });
});
