#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { ExitCode } from '../config/errors';
import { registerDashboard } from './commands/dashboard';
import { registerEnqueue } from './commands/enqueue';
import { registerExport } from './commands/export';
import { registerGet } from './commands/get';
import { registerSimApi } from './commands/sim-api';
import { registerStart } from './commands/start';
import { registerStatus } from './commands/status';
import { registerWorker } from './commands/worker';

export function buildProgram(): Command {
  const program = new Command('pokequeue')
    .description('Fetch Pokémon from the PokeAPI at scale: a Redis job queue with concurrent workers.')
    .version(require('../../../package.json').version as string)
    .showHelpAfterError('(run with --help for usage)')
    // Usage errors exit 2 like bad config, so scripts can tell them from failed batches (1).
    .exitOverride((err: CommanderError) => {
      const benign = ['commander.helpDisplayed', 'commander.version', 'commander.help'];
      process.exit(benign.includes(err.code) ? ExitCode.ok : ExitCode.usage);
    });
  for (const register of [registerStart, registerEnqueue, registerWorker, registerStatus, registerGet, registerExport, registerDashboard, registerSimApi]) {
    register(program);
  }
  for (const cmd of program.commands) {
    cmd.exitOverride((err: CommanderError) => {
      const benign = ['commander.helpDisplayed', 'commander.version', 'commander.help'];
      process.exit(benign.includes(err.code) ? ExitCode.ok : ExitCode.usage);
    });
  }
  return program;
}

if (require.main === module) {
  void buildProgram().parseAsync(process.argv);
}
