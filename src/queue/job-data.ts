import { UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';
import { MAX_ID } from '../ids/parse-spec';
import { sample } from '../pokeapi/fetch-policy';
import type { PokemonJobData } from '../types';
import { isBatchId } from '../batch/batch-id';

/**
 * The one check of a job's data, made by the worker before anything else. The producer only
 * ever writes `{ id, batchId[, refresh] }`, but anyone who can add jobs (bull-board's "add job",
 * a script with Redis access) can write anything: an id of `"../../../admin?x="` would become a
 * request path, a missing batch id a key named `<prefix>:batch:undefined`. Such a job fails at
 * once, with no request made and nothing written, as `bad_job`.
 */
export const BAD_JOB = 'bad_job';

/** The job's data when it is well formed; otherwise logs a warning and throws BullMQ's UnrecoverableError (no retries). */
export function checkJobData(job: { id?: string; data: unknown }, log?: Logger): PokemonJobData {
  const problem = jobDataProblem(job.data);
  if (!problem) return job.data as PokemonJobData;
  const message = `${BAD_JOB}: ${problem}; job data: ${sample(show(job.data))}`;
  log?.warn({ jobId: sample(String(job.id)), reason: BAD_JOB }, `job failed without a request: ${message}`);
  throw new UnrecoverableError(message);
}

function jobDataProblem(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return 'job data must be an object { id, batchId }';
  const { id, batchId, refresh } = data as Record<string, unknown>;
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 1 || id > MAX_ID) return `id must be a whole number from 1 to ${MAX_ID}`;
  if (typeof batchId !== 'string' || !isBatchId(batchId)) return 'batchId must be a batch id like b-mwvfoddq-bd3110';
  if (refresh !== undefined && typeof refresh !== 'boolean') return 'refresh must be true or false when given';
  return undefined;
}

function show(data: unknown): string {
  try {
    return JSON.stringify(data) ?? String(data);
  } catch {
    return String(data);
  }
}
