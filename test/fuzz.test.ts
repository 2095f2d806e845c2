/**
 * Hostile input, generated: thousands of malformed requests against the real API. None may cause a 5xx or crash
 * the process, and none that is refused may leave anything stored.
 */
import fc from 'fast-check';
import { startStack, type Stack } from './helpers/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
  await stack.http('POST', '/v1/conversations', { conversationId: 'target', userId: 'fuzz' });
});
afterAll(() => stack?.stop());

const loneSurrogate = fc.constantFrom('\uD800', '\uDC00', 'a\uD83Dz', '\u0000', 'x\u0000y');
const nasty = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 200 }),
  loneSurrogate,
  fc.constantFrom(
    '',
    ' ',
    '\n\t ',
    'é'.repeat(20_000),
    '{'.repeat(5000),
    '../../etc/passwd',
    '%00',
    '<script>',
    '🙂'.repeat(9000),
  ),
);
const id = fc.oneof(
  fc.constantFrom('target', 'a'.repeat(129), 'has space', '..', 'x/y', '%2F', ''),
  fc.string({ maxLength: 40 }),
);
const jsonValue = fc.oneof(
  fc.jsonValue({ maxDepth: 6 }),
  nasty,
  fc.constant(null),
  fc.integer(),
  fc.array(nasty, { maxLength: 3 }),
);

/** A body that is wrong in one of many ways: not JSON, wrong shape, wrong types, bad text, too deep, too big. */
const body = fc.oneof(
  fc.record(
    { content: nasty, messageId: fc.option(id, { nil: undefined }), extra: fc.option(jsonValue, { nil: undefined }) },
    { requiredKeys: [] },
  ),
  fc.record({ content: jsonValue, userId: fc.option(jsonValue, { nil: undefined }) }, { requiredKeys: [] }),
  fc.record({
    userId: id,
    conversationId: fc.option(id, { nil: undefined }),
    systemPrompt: fc.option(jsonValue, { nil: undefined }),
  }),
  jsonValue,
  fc.constantFrom(
    '{"content":',
    'not json',
    '[',
    `${'['.repeat(200)}${']'.repeat(200)}`,
    JSON.stringify({ content: 'x'.repeat(300_000) }),
  ),
);

const request = fc.record({
  method: fc.oneof(
    { arbitrary: fc.constant('POST'), weight: 6 },
    { arbitrary: fc.constantFrom('GET', 'DELETE', 'PUT', 'PATCH'), weight: 1 },
  ),
  path: fc.oneof(
    { arbitrary: fc.constant('/v1/conversations/target/messages'), weight: 6 },
    { arbitrary: fc.constant('/v1/conversations'), weight: 3 },
    { arbitrary: fc.constant('/v1/conversations/target/context'), weight: 2 },
    { arbitrary: id.map((i) => `/v1/conversations/${encodeURIComponent(i)}/messages`), weight: 2 },
    { arbitrary: id.map((i) => `/v1/conversations/${encodeURIComponent(i)}`), weight: 1 },
    { arbitrary: id.map((i) => `/v1/conversations/target/messages/${encodeURIComponent(i)}/context`), weight: 1 },
    { arbitrary: fc.string({ maxLength: 30 }).map((s) => `/${encodeURIComponent(s)}`), weight: 1 },
  ),
  body,
  contentType: fc.constantFrom(
    'application/json',
    'text/plain',
    'application/json; charset=latin1',
    'application/x-www-form-urlencoded',
    undefined,
  ),
  query: fc.constantFrom('', '?async=true', '?async=maybe', '?limit=-1', '?limit=999999', '?before=abc'),
});

it('answers thousands of malformed requests with 4xx, never 5xx, and stores nothing for them', async () => {
  const seen = new Map<number, number>();
  const refused = { contents: new Set<string>(), conversationIds: new Set<string>() };
  // The same text may be refused in one request (say, for a bad messageId) and accepted in another.
  const accepted = { contents: new Set<string>(), conversationIds: new Set<string>() };
  await fc.assert(
    // Deleting the target is a valid request, not a malformed one: leave it out.
    fc.asyncProperty(
      request.filter((r) => !(r.method === 'DELETE' && r.path === '/v1/conversations/target')),
      async (r) => {
        const res = await fetch(`${stack.serving.api!.url}${r.path}${r.query}`, {
          method: r.method,
          headers: {
            authorization: `Bearer ${stack.tenants.acme.key}`,
            ...(r.contentType ? { 'content-type': r.contentType } : {}),
          },
          ...(r.method === 'GET' || r.method === 'DELETE'
            ? {}
            : { body: typeof r.body === 'string' ? r.body : (JSON.stringify(r.body) ?? 'null') }),
        });
        const text = await res.text();
        seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
        expect(res.status, `${r.method} ${r.path} → ${res.status} ${text.slice(0, 200)}`).toBeLessThan(500);
        const b = r.body as { content?: unknown; conversationId?: unknown } | null;
        const into = res.status >= 400 ? refused : accepted;
        if (b && typeof b === 'object' && typeof b.content === 'string') into.contents.add(b.content);
        if (b && typeof b === 'object' && typeof b.conversationId === 'string')
          into.conversationIds.add(b.conversationId);
        if (res.status >= 400) expect(JSON.parse(text).error.code).toEqual(expect.any(String));
      },
    ),
    { numRuns: 2000, seed: 20261126, endOnFailure: true },
  );
  // The process is still healthy, and the conversation under attack still works (after any accepted messages).
  expect((await stack.http('GET', '/healthz')).status).toBe(200);
  expect((await stack.http('POST', '/v1/conversations/target/messages', { content: 'still here?' })).status).toBe(200);
  // Nothing that was refused was stored, then or later.
  const { db } = stack.serving.services;
  const stored = await db.query<{ content: string }>('SELECT content FROM messages WHERE content = ANY($1::text[])', [
    [...refused.contents].filter((c) => !accepted.contents.has(c) && !/[\u0000\uD800-\uDFFF]/.test(c)),
  ]);
  expect(stored).toEqual([]);
  const conversations = await db.query(
    'SELECT conversation_id FROM conversations WHERE conversation_id = ANY($1::text[])',
    [[...refused.conversationIds].filter((c) => !accepted.conversationIds.has(c) && !/[\u0000\uD800-\uDFFF]/.test(c))],
  );
  expect(conversations).toEqual([]);
  console.log(
    'fuzz status counts',
    Object.fromEntries([...seen.entries()].sort()),
    'refused contents',
    refused.contents.size,
  );
});
