import type { Command } from 'commander';
import { ExitCode } from '../../config/errors';
import { printable, terminalSafeJson } from '../../printable';
import type { PokemonRecord } from '../../types';
import { openContext } from '../context';
import { runCommand, UserFacingError } from '../run-command';

export function registerGet(program: Command): void {
  program
    .command('get')
    .description('print one stored record, by id or name')
    .argument('<idOrName>', 'e.g. 25 or pikachu')
    .option('--json', 'print the record as JSON')
    .action((idOrName: string, opts: { json?: boolean }) =>
      runCommand({}, async (config, log) => {
        const key = idOrName.trim().toLowerCase();
        if (!/^[1-9]\d{0,6}$/.test(key) && !/^[a-z0-9][a-z0-9.'-]{0,79}$/.test(key)) {
          throw new UserFacingError(`"${idOrName}" is neither an id (a positive whole number) nor a Pokémon name`, ExitCode.usage);
        }
        const ctx = await openContext(config, log, { startup: 'fail-fast' });
        try {
          const record = await ctx.store.lookup(key);
          if (!record) {
            process.stderr.write(`not stored: ${idOrName} (enqueue it with: pokequeue enqueue ${/^\d+$/.test(key) ? key : '<id>'} --wait)\n`);
            return ExitCode.failure;
          }
          process.stdout.write(`${opts.json ? terminalSafeJson(record) : describeRecord(record)}\n`);
          return ExitCode.ok;
        } finally {
          await ctx.close();
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
