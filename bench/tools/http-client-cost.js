'use strict';
/**
 * Worker CPU per GET for the three ways undici can fetch a small gzipped body: `request()` with
 * the body read through stream events (the client before issue 12's last round), `dispatch()`
 * with a handler of undici 7's current API (what src/pokeapi/client.ts does now), and the
 * deprecated handler API, for reference. A loopback server in a child process sends the same
 * ~1 KB gzipped body; this process makes 20,000 GETs at concurrency 100 per mode, after 2,000 to
 * warm up, and prints its own CPU time (user + system) per request.
 *
 * usage: node bench/tools/http-client-cost.js            (after npm ci; no build needed)
 */
const { fork } = require('node:child_process');
const http = require('node:http');
const zlib = require('node:zlib');
const { EventEmitter } = require('node:events');

if (process.argv[2] === 'serve') {
  const body = zlib.gzipSync(Buffer.from(JSON.stringify({ id: 1, name: 'x'.repeat(50), data: Array.from({ length: 60 }, (_, i) => ({ k: `key${i}`, v: i })) })));
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': body.length });
    res.end(body);
  });
  server.listen(0, '127.0.0.1', () => process.send(server.address().port));
  process.on('disconnect', () => process.exit(0));
  return;
}

const { Agent, request } = require('undici');
const N = 20_000;
const C = 100;
const headers = { 'accept-encoding': 'gzip, br', accept: 'application/json', 'user-agent': 'pokequeue' };

class Deadline extends EventEmitter {
  aborted = false;
  reason = undefined;
  abort() {
    this.aborted = true;
    this.emit('abort');
  }
}

function modes(agent, origin, path) {
  const url = origin + path;
  return {
    async request() {
      const d = new Deadline();
      const t = setTimeout(() => d.abort(), 10_000);
      try {
        const res = await request(url, { dispatcher: agent, headers, signal: d });
        const chunks = [];
        await new Promise((resolve, reject) => {
          res.body.on('data', (c) => chunks.push(c));
          res.body.once('end', resolve);
          res.body.once('error', reject);
        });
        return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      } finally {
        clearTimeout(t);
      }
    },
    dispatch() {
      return new Promise((resolve, reject) => {
        const chunks = [];
        let ctl;
        const t = setTimeout(() => ctl?.abort(new Error('timeout')), 10_000);
        agent.dispatch({ origin, path, method: 'GET', headers }, {
          onRequestStart(c) { ctl = c; },
          onResponseStart() {},
          onResponseData(_c, chunk) { chunks.push(chunk); },
          onResponseEnd() { clearTimeout(t); resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)); },
          onResponseError(_c, err) { clearTimeout(t); reject(err); },
        });
      });
    },
    'dispatch (deprecated handler API)'() {
      return new Promise((resolve, reject) => {
        const chunks = [];
        let abort;
        const t = setTimeout(() => abort?.(new Error('timeout')), 10_000);
        agent.dispatch({ origin, path, method: 'GET', headers }, {
          onConnect(a) { abort = a; },
          onHeaders() { return true; },
          onData(chunk) { chunks.push(chunk); return true; },
          onComplete() { clearTimeout(t); resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)); },
          onError(err) { clearTimeout(t); reject(err); },
        });
      });
    },
  };
}

(async () => {
  const server = fork(__filename, ['serve']);
  const port = await new Promise((r) => server.once('message', r));
  try {
    for (let round = 1; round <= 2; round++) {
      for (const [name, get] of Object.entries(modes(new Agent({ connections: C, keepAliveTimeout: 30_000 }), `http://127.0.0.1:${port}`, '/api/v2/pokemon/1/'))) {
        for (let i = 0; i < 2000; i++) await get();
        const cpu0 = process.cpuUsage();
        let next = 0;
        await Promise.all(Array.from({ length: C }, async () => { while (next++ < N) await get(); }));
        const cpu = process.cpuUsage(cpu0);
        console.log(`round ${round}: ${name.padEnd(34)} ${((cpu.user + cpu.system) / N).toFixed(1)} µs of CPU per GET`);
      }
    }
  } finally {
    server.disconnect();
  }
})();
