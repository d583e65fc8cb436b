import type { WriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { once } from 'node:events';
import type { Command } from 'commander';
import { ExitCode } from '../../config/errors';
import { printable, terminalSafeJson } from '../../printable';
import type { PokemonRecord } from '../../types';
import { PokeQueue } from '../../api/pokequeue';
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
        // Opened before connecting: a path that cannot be written (a directory, a missing folder)
        // is a clear error, not a stack trace halfway through the export.
        const file = opts.out ? await openOut(opts.out) : undefined;
        const pq = await PokeQueue.open(config, log).catch(async (err: unknown) => {
          file?.destroy();
          throw err;
        });
        const out = file ?? process.stdout;
        // `pokequeue export | head` closes the pipe early: that is the reader's choice, not an error.
        if (out === process.stdout) process.stdout.on('error', (err: NodeJS.ErrnoException) => err.code === 'EPIPE' && process.exit(0));
        let n = 0;
        try {
          if (opts.format === 'csv') await write(out, `${CSV_COLUMNS.join(',')}\n`);
          for await (const r of pq.records()) {
            await write(out, opts.format === 'csv' ? `${csvRow(r)}\n` : `${terminalSafeJson(r)}\n`);
            n++;
          }
        } finally {
          await pq.close();
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

/** The file for --out, opened for writing; a path that cannot be is bad input (exit 2). */
async function openOut(path: string): Promise<WriteStream> {
  try {
    const handle = await open(path, 'w');
    return handle.createWriteStream();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'EISDIR' ? 'it is a directory (name a file inside it)' : e.code === 'ENOENT' ? 'its folder does not exist' : e.message;
    throw new UserFacingError(`--out: cannot write to ${path}: ${why}`, ExitCode.usage);
  }
}

/**
 * One CSV cell (RFC 4180), neutralised per OWASP's CSV-injection guidance: a text cell that
 * starts with = + - @ tab or CR would be run as a formula by Excel, LibreOffice or Sheets
 * (`=HYPERLINK(...)`, `+cmd|' /C calc'!A0`), so it gets a leading `'`; any cell with a quote,
 * comma, CR or LF is quoted, so a bare CR cannot start a new row. Other control characters are
 * shown as escapes. Numbers and booleans are ours and pass as they are (-5 stays a number).
 */
export function csvCell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  let s = printable(String(v), { keepLines: true });
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
