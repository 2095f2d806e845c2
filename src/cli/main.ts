/**
 * The `memoir` command line. Inside a clone: `npm run memoir -- <verb>`; installed: `memoir <verb>`.
 */
import { program } from './program';

program()
  .parseAsync(process.argv)
  .then(() => process.exit(0))
  .catch((err: unknown) => {
    process.stderr.write(`memoir: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
