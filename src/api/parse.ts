/**
 * Request parts checked against their zod schema; the first problem becomes a 400 `invalid_request`.
 */
import type { z } from 'zod';
import { MemoirError } from '../client/errors';

export function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw new MemoirError('invalid_request', 400, `${issue.path.join('.') || 'body'}: ${issue.message}`);
}
