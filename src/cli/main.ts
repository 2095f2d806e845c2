/**
 * The `memoir` command line. Inside a clone: `npm run memoir -- <verb>`; installed: `memoir <verb>`.
 */
import { CliError } from './errors';
import { program } from './program';

program()
  .parseAsync(process.argv)
  .then(() => process.exit(0))
  .catch((err: unknown) => {
    // A CliError with no message has already said everything on stdout (a replay report); only its code is left.
    const message = err instanceof Error ? err.message : String(err);
    if (message) process.stderr.write(`memoir: ${message}\n`);
    process.exit(err instanceof CliError ? err.exitCode : 1);
  });
