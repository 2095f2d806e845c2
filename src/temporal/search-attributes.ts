/**
 * Makes sure the server knows the conversation search attributes before any workflow upserts them (an unknown
 * attribute fails the workflow task). The embedded dev server registers them by flag; an external server gets
 * them here when the connection may, and otherwise a clear message says how.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Connection } from '@temporalio/client';

const TYPE_CODES: Record<string, number> = {
  Text: 1,
  Keyword: 2,
  Int: 3,
  Double: 4,
  Bool: 5,
  Datetime: 6,
  KeywordList: 7,
};

export function declaredSearchAttributes(): Record<string, string> {
  const file = path.join(__dirname, '..', '..', 'temporal-config', 'search-attributes.json');
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, string>;
}

/** Registers whichever declared attributes the namespace lacks; returns their names. */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const declared = declaredSearchAttributes();
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set([
    ...Object.keys(existing.customAttributes ?? {}),
    ...Object.keys(existing.systemAttributes ?? {}),
  ]);
  const missing = Object.entries(declared).filter(([name]) => !known.has(name));
  if (missing.length === 0) return [];
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, TYPE_CODES[type]!])),
    });
  } catch (err) {
    const list = missing.map(([n, t]) => `${n}=${t}`).join(', ');
    throw new Error(
      `namespace ${namespace} lacks search attributes ${list} and they could not be added (${String(err)}). ` +
        'Register them with temporal-config/register-search-attributes.sh.',
    );
  }
  return missing.map(([name]) => name);
}
