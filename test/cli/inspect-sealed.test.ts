/**
 * The inspection verbs on a stack that encrypts text at rest: the real CLI in a child process opens messages,
 * manifests and system prompts with the server's keys instead of printing (or sending) ciphertext.
 */
import { startStack, type Stack } from '../helpers/stack';
import { memoir } from './run-cli';

const MASTER_KEYS = `k1:${Buffer.alloc(32, 5).toString('base64')}`;
const PROMPT = 'You are the sealed-prompt assistant. Address the user as Captain.';

let stack: Stack;
let tenant: string;

beforeAll(async () => {
  stack = await startStack({ env: { MEMOIR_MASTER_KEYS: MASTER_KEYS, MEMOIR_ENCRYPT_AT_REST: 'true' } });
  tenant = stack.tenants.acme.id;
  const created = await stack.http('POST', '/v1/conversations', {
    conversationId: 'trip',
    userId: 'ada',
    systemPrompt: PROMPT,
  });
  expect(created.status).toBe(201);
  for (const [messageId, content] of [
    ['m-1', 'Hello! My name is Ada.'],
    ['m-2', 'What is my name?'],
  ]) {
    expect((await stack.http('POST', '/v1/conversations/trip/messages', { content, messageId })).status).toBe(200);
  }
  // Sealed in the database, so a reader without the keys would see ciphertext.
  const rows = await stack.serving.services.db.query<{ content: string }>(
    'SELECT content FROM messages WHERE tenant_id = $1',
    [tenant],
  );
  expect(rows.every((r) => r.content.startsWith('memoir-enc:'))).toBe(true);
});
afterAll(() => stack?.stop());

it('memoir show prints the messages as written', async () => {
  const out = await memoir(['show', 'trip', '--tenant', tenant, '--json'], stack.env);
  expect(out.code, out.stderr).toBe(0);
  const shown = JSON.parse(out.stdout) as { messages: { content: string }[] };
  expect(shown.messages.map((m) => m.content)).toEqual(
    expect.arrayContaining(['Hello! My name is Ada.', 'What is my name?']),
  );
  expect(out.stdout).not.toContain('memoir-enc:');
});

it('memoir rerun sends the recorded system prompt and context, and shows the recorded reply', async () => {
  await stack.offline.reset();
  const out = await memoir(['rerun', 'trip', 'm-2', '--tenant', tenant, '--json'], stack.env);
  expect(out.code, out.stderr).toBe(0);
  const json = JSON.parse(out.stdout) as { recorded: { content: string }; systemPrompt: string };
  expect(json.systemPrompt).toBe('as recorded');
  expect(json.recorded.content).not.toContain('memoir-enc:');
  expect(json.recorded.content.length).toBeGreaterThan(0);

  const [request] = (await stack.offline.requests()) as { body: { system: unknown; messages: unknown } }[];
  expect(JSON.stringify(request!.body.system)).toContain(PROMPT);
  const sent = JSON.stringify(request!.body.messages);
  expect(sent).toContain('Hello! My name is Ada.');
  expect(sent).toContain('What is my name?');
  expect(sent).not.toContain('memoir-enc:');
});
