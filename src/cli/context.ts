/**
 * The commands' composition root lives in src/api/context.ts, shared with the library
 * (PokeQueue); this is the path the worker and dashboard commands import it by.
 */
export { createPokeApiClient, openContext, type AppContext } from '../api/context';
