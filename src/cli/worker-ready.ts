/** The message a supervised worker sends its supervisor once it takes jobs (over the IPC channel). */
export const WORKER_READY_MESSAGE = 'pokequeue:worker-ready';
