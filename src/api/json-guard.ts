/**
 * JSON bodies parsed defensively: nesting deeper than a limit is refused before parsing (a deep enough document
 * exhausts the parser's stack), then Fastify's own parser rejects prototype poisoning.
 */
import type { FastifyInstance } from 'fastify';
import { MemoirError } from '../client/errors';

export const MAX_JSON_DEPTH = 32;

/** The deepest nesting of arrays and objects in a JSON text, scanning once and skipping strings. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) max = Math.max(max, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

export function guardJson(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body as string;
    if (jsonDepth(text) > MAX_JSON_DEPTH) {
      done(new MemoirError('invalid_request', 400, `JSON nested deeper than ${MAX_JSON_DEPTH} levels`), undefined);
      return;
    }
    void parse(req, text, done);
  });
}
