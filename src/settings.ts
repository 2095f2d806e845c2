/**
 * Reading a table of settings (`NAME: [zod schema, description]`) from the environment: every value parsed, every
 * problem collected, so a misconfigured process says everything that is wrong at once. Values are never echoed
 * (some are secrets).
 */
import type { z } from 'zod';

export type SettingsTable = Record<string, readonly [z.ZodType, string]>;

export function readSettings(
  table: SettingsTable,
  env: NodeJS.ProcessEnv,
): { values: Record<string, unknown>; problems: string[] } {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, [schema]] of Object.entries(table)) {
    // An empty variable means unset: `FOO= make demo` must not fail validation.
    const result = schema.safeParse(env[name] === '' ? undefined : env[name]);
    if (result.success) values[name] = result.data;
    else problems.push(`${name}: ${result.error.issues.map((i) => i.message).join('; ')}`);
  }
  return { values, problems };
}
