import type { Command } from 'commander';
import { ExitCode } from '../../config/errors';
import { printable, terminalSafeJson } from '../../printable';
import type { PokemonRecord } from '../../types';
import { PokeQueue } from '../../api/pokequeue';
import { parseRecordKey } from '../../ids/parse-spec';
import { runCommand } from '../run-command';

export function registerGet(program: Command): void {
  program
    .command('get')
    .description('print one stored record, by id or name (a name no Pokémon has is exit 2, with the nearest names)')
    .argument('<idOrName>', 'e.g. 25 or pikachu')
    .option('--json', 'print the record as JSON')
    .action((idOrName: string, opts: { json?: boolean }) =>
      runCommand({}, async (config, log) => {
        // Checked before connecting: junk fails fast and touches nothing.
        const key = parseRecordKey(idOrName);
        const pq = await PokeQueue.open(config, log);
        try {
          const record = await pq.get(idOrName);
          if (!record) {
            process.stderr.write(`not stored: ${'id' in key ? key.id : key.name} (enqueue it with: pokequeue enqueue ${'id' in key ? key.id : key.catalogName ? key.name : '<id>'} --wait)\n`);
            return ExitCode.failure;
          }
          process.stdout.write(`${opts.json ? terminalSafeJson(record) : describeRecord(record)}\n`);
          return ExitCode.ok;
        } finally {
          await pq.close();
        }
      }),
    );
}

/**
 * The record for a human at a terminal. Every field came from the API: the whole text goes
 * through `printable`, so an escape sequence in a name shows as `\x1b` instead of retitling the
 * window or clearing the screen (records stored before names were checked may hold them).
 */
function describeRecord(r: PokemonRecord): string {
  const stats = Object.entries(r.stats).map(([k, v]) => `${k} ${v}`).join(', ');
  const lines = [
    `#${r.id} ${r.name}${r.isDefault ? '' : ` (form of ${r.species})`}`,
    `  types: ${r.types.join(', ')}`,
    `  abilities: ${r.abilities.map((a) => (a.hidden ? `${a.name} (hidden)` : a.name)).join(', ')}`,
    `  stats: ${stats}`,
    `  height ${r.height / 10} m, weight ${r.weight / 10} kg, base experience ${r.baseExperience ?? 'n/a'}, ${r.moveCount} moves`,
    `  sprite: ${r.sprite ?? 'none'}`,
    `  fetched ${r.fetchedAt} from ${r.sourceUrl}`,
  ];
  return lines.map((l) => printable(l)).join('\n');
}
