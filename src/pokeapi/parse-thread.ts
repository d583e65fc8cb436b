/**
 * A parse thread: decompresses, parses and normalizes one payload per message, off the worker's
 * event loop. A realistic payload is ~100 KB of JSON (665 KB at most) of which the record keeps
 * under 1 KB: parsing it is most of a job's CPU, and on the event loop it stalls every other job
 * of the process (BullMQ's job fetching, lock renewals, other responses). Only the small record
 * comes back, so the copy between threads is cheap.
 */
import { parentPort } from 'node:worker_threads';
import type { PokemonRecord } from '../types';
import { decodeSync, parseBody } from './body';
import { BadPayloadError, PokeApiError } from './errors';
import { normalizePokemon } from './normalize';

export interface ParseTask {
  taskId: number;
  wire: Uint8Array;
  encoding: string;
  contentType: string;
  id: number;
  url: string;
  /** HTTP_MAX_BODY_BYTES: decoding stops there, here as on the event loop. */
  maxBodyBytes: number;
}

/** A PokeApiError as data: errors cross threads as plain objects, and are rebuilt on the other side. */
export interface ThreadError {
  reason: string;
  message: string;
  sample?: string;
}

export type ParseReply = { taskId: number; record: PokemonRecord } | { taskId: number; error: ThreadError };

export function parseTask(task: ParseTask): ParseReply {
  try {
    const wire = Buffer.from(task.wire.buffer, task.wire.byteOffset, task.wire.byteLength);
    const payload = parseBody(decodeSync(wire, task.encoding, task.maxBodyBytes), task.contentType);
    return { taskId: task.taskId, record: normalizePokemon(payload, task.id, task.url) };
  } catch (err) {
    if (err instanceof BadPayloadError) return { taskId: task.taskId, error: { reason: err.reason, message: err.message, sample: err.sample } };
    if (err instanceof PokeApiError) return { taskId: task.taskId, error: { reason: err.reason, message: err.message } };
    return { taskId: task.taskId, error: { reason: 'internal', message: (err as Error).message } };
  }
}

parentPort?.on('message', (task: ParseTask) => parentPort!.postMessage(parseTask(task)));
