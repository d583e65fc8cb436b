/**
 * pokequeue as a library: everything `import { … } from 'pokequeue'` (or `require('pokequeue')`)
 * gives, and nothing else. Deliberately small: the PokeQueue class, the types of what it takes and
 * returns, and the errors it throws, each a class to test with `instanceof`. Every other module
 * is internal, unreachable through the package's `exports`, and may change in any release.
 * The README's "From a program" documents each of them; test/package.test.ts holds the list.
 */
export { PokeQueue } from './api/pokequeue';
export type { Batch, EnqueueOptions, FollowOptions, PokeQueueLogger, PokeQueueLogMethod, PokeQueueOptions, QueueStatus, WorkerStatus } from './api/types';
export type { BatchProgress, BatchSnapshot, BatchSummary, BatchView } from './batch/batch';
export type { Percentiles } from './stats/histogram';
export type { PokemonRecord } from './types';

export { BatchNotFoundError, BatchWatchLostError, PartialEnqueueError } from './batch/batch';
export { ConfigError, InvalidSpecError, UnknownNameError, type UnknownName } from './config/errors';
export { BadListError, PokeApiError, PokeApiUnavailableError } from './pokeapi/errors';
export { RedisUnavailableError } from './redis/errors';
