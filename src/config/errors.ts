/**
 * A configuration value that cannot be used. `variable` names the environment variable (or the
 * flag that overrode it) so the message points the user at the one thing to fix.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

/** Input a user typed that names no valid ids (a bad spec). Nothing is enqueued when it is thrown. */
export class InvalidSpecError extends Error {
  override readonly name: string = 'InvalidSpecError';
}

/** One name a spec gave that no Pokémon has, and the known names nearest to it (closest first). */
export interface UnknownName {
  readonly name: string;
  readonly nearest: readonly string[];
}

/**
 * A spec named a Pokémon the API's list does not know (the list was read again once to make
 * sure). Nothing is enqueued when it is thrown. A bad spec, so an `InvalidSpecError` too (exit 2).
 */
export class UnknownNameError extends InvalidSpecError {
  override readonly name = 'UnknownNameError';
  constructor(readonly unknown: readonly UnknownName[]) {
    super(
      unknown
        .map((u) => `no Pokémon is named "${u.name}"${u.nearest.length ? `; nearest known names: ${u.nearest.join(', ')}` : ' (no known name is close)'}`)
        .join('; '),
    );
  }
}

/** Exit codes every command shares: scripts calling pokequeue can rely on them. */
export const ExitCode = {
  ok: 0,
  /** A batch had failed jobs, or the command could not do its work (Redis or the API unreachable). */
  failure: 1,
  /** The command line or the configuration was wrong; nothing was changed. */
  usage: 2,
} as const;
