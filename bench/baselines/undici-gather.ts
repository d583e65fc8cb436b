/**
 * The no-queue limit for the tutorial's job, as a whole Node process: one undici Agent, one
 * request per id, all at once with Promise.all; each body gunzipped (off the event loop, as
 * pokequeue does) and parsed. Prints `{"ok":N,"failed":N,"ms":T}`, T from first request to
 * last body parsed; the bench times the whole process from spawn to exit.
 *
 * usage: node dist/bench/baselines/undici-gather.js <apiBaseUrl> <firstId> <lastId>
 */
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { Agent, request } from 'undici';

const gunzip = promisify(zlib.gunzip);

async function main(): Promise<void> {
  const [baseUrl, first, last] = process.argv.slice(2);
  if (!baseUrl || !first || !last) throw new Error('usage: undici-gather <apiBaseUrl> <firstId> <lastId>');
  const ids: number[] = [];
  for (let id = Number(first); id <= Number(last); id++) ids.push(id);
  // undici's default: unlimited connections per origin, so every request goes out at once.
  const agent = new Agent({ keepAliveTimeout: 30_000 });
  const started = performance.now();
  const names = await Promise.all(
    ids.map(async (id) => {
      const res = await request(`${baseUrl}/pokemon/${id}/`, {
        dispatcher: agent,
        headers: { 'accept-encoding': 'gzip', accept: 'application/json' },
      });
      const body = Buffer.from(await res.body.arrayBuffer());
      if (res.statusCode !== 200) return null;
      const plain = res.headers['content-encoding'] === 'gzip' ? await gunzip(body) : body;
      return (JSON.parse(plain.toString('utf8')) as { name: string }).name;
    }),
  );
  const ms = performance.now() - started;
  await agent.close();
  const ok = names.filter((n) => n !== null).length;
  process.stdout.write(`${JSON.stringify({ ok, failed: ids.length - ok, ms: Math.round(ms) })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
