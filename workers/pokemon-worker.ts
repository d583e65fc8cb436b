/**
 * Process entry point for one worker (containers, supervisors): the same as
 * `pokequeue worker`, configured from the environment. Flags after the script name pass through.
 */
import { buildProgram } from '../src/cli/main';

void buildProgram().parseAsync([process.argv[0]!, 'pokequeue', 'worker', ...process.argv.slice(2)]);
