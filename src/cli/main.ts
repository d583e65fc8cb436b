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

/** Usage errors exit 2 like bad config, so scripts can tell them from failed batches (1). */
function exitOnCommanderError(err: CommanderError): never {
  const benign = ['commander.helpDisplayed', 'commander.version', 'commander.help'];
  process.exit(benign.includes(err.code) ? ExitCode.ok : ExitCode.usage);
}

export function buildProgram(): Command {
  const program = new Command('pokequeue')
    .description('Fetch Pokémon from the PokeAPI at scale: a Redis job queue with concurrent workers.')
    .version(require('../../../package.json').version as string)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride(exitOnCommanderError);
  for (const register of [registerStart, registerEnqueue, registerWorker, registerStatus, registerGet, registerExport, registerDashboard, registerSimApi]) {
    register(program);
  }
  for (const cmd of program.commands) {
    cmd.exitOverride(exitOnCommanderError);
  }
  return program;
}

if (require.main === module) {
  void buildProgram().parseAsync(process.argv);
}
