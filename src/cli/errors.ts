/**
 * How a verb ends other than by success: a message for the person at the terminal and the exit code scripts see.
 */

/** Exit codes of the inspection verbs: 1 for any failure, 3 when `replay` found non-determinism. */
export const ExitCodes = { failure: 1, nondeterminism: 3 } as const;

/** A failure the verb has already explained (or explains in `message`); `main.ts` exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = ExitCodes.failure,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
