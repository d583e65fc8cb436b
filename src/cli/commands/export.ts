import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Command } from 'commander';
import { ExitCode } from '../../config/errors';
import type { PokemonRecord } from '../../types';
import { openContext } from '../context';
import { runCommand, UserFacingError } from '../run-command';

const CSV_COLUMNS = ['id', 'name', 'species', 'isDefault', 'types', 'abilities', 'height', 'weight', 'baseExperience', 'order', 'hp', 'attack', 'defense', 'special-attack', 'special-defense', 'speed', 'moveCount', 'sprite', 'fetchedAt', 'sourceUrl'];

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('stream every stored record, sorted by id')
    .option('--format <format>', 'jsonl or csv', 'jsonl')
    .option('--out <file>', 'write to a file instead of stdout')
    .action((opts: { format: string; out?: string }) =>
      runCommand({}, async (config, log) => {
        if (opts.format !== 'jsonl' && opts.format !== 'csv') {
          throw new UserFacingError(`--format must be jsonl or csv (got "${opts.format}")`, ExitCode.usage);
        }
        const ctx = await openContext(config, log, { startup: 'fail-fast' });
        const out = opts.out ? createWriteStream(opts.out) : process.stdout;
        // `pokequeue export | head` closes the pipe early: that is the reader's choice, not an error.
        if (out === process.stdout) process.stdout.on('error', (err: NodeJS.ErrnoException) => err.code === 'EPIPE' && process.exit(0));
        let n = 0;
        try {
          if (opts.format === 'csv') await write(out, `${CSV_COLUMNS.join(',')}\n`);
          for await (const r of ctx.store.iterate()) {
            await write(out, opts.format === 'csv' ? `${csvRow(r)}\n` : `${JSON.stringify(r)}\n`);
            n++;
          }
        } finally {
          await ctx.close();
          if (out !== process.stdout) await new Promise<void>((r) => (out as NodeJS.WritableStream).end(() => r()));
        }
        if (opts.out) process.stderr.write(`exported ${n} records to ${opts.out}\n`);
        return ExitCode.ok;
      }),
    );
}

/** Respects backpressure, so exporting a large store does not buffer it all in memory. */
async function write(out: NodeJS.WritableStream, chunk: string): Promise<void> {
  if (!out.write(chunk)) await once(out as NodeJS.EventEmitter, 'drain');
}

function csvRow(r: PokemonRecord): string {
  const values: unknown[] = [
    r.id, r.name, r.species, r.isDefault, r.types.join('|'), r.abilities.map((a) => (a.hidden ? `${a.name}*` : a.name)).join('|'),
    r.height, r.weight, r.baseExperience ?? '', r.order, r.stats.hp, r.stats.attack, r.stats.defense,
    r.stats['special-attack'], r.stats['special-defense'], r.stats.speed, r.moveCount, r.sprite ?? '', r.fetchedAt, r.sourceUrl,
  ];
  return values.map(csvCell).join(',');
}

function csvCell(v: unknown): string {
  const s = v === undefined || v === null ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
