/**
 * The administration verbs against a whole stack: keys created on the command line work on the API, and
 * `memoir erase` reports what it erased.
 */
import { memoir as runCli } from './run-cli';
import { startStack, type Stack } from '../helpers/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

it('creates, lists and revokes API keys', async () => {
  const created = await runCli(
    ['keys', 'create', '--tenant', stack.tenants.acme.id, '--label', 'from the cli'],
    stack.env,
  );
  expect(created.code, created.stderr).toBe(0);
  const key = created.stdout.split('\n')[1]!.trim();
  expect(key).toMatch(/^mk_/);
  expect(
    (await stack.http('POST', '/v1/conversations', { conversationId: 'via-cli-key', userId: 'u' }, key)).status,
  ).toBe(201);
  const listed = await runCli(['keys', 'list', '--tenant', stack.tenants.acme.id], stack.env);
  expect(listed.stdout).toContain('from the cli');
  expect(listed.stdout).not.toContain(key);
  const keyId = /^(key_[0-9a-f]+)/m.exec(listed.stdout)![1]!;
  expect((await runCli(['keys', 'revoke', keyId], stack.env)).code).toBe(0);
  expect((await runCli(['keys', 'revoke', keyId], stack.env)).code).not.toBe(0);
});

it('erases a user and reports the counts', async () => {
  await stack.http('POST', '/v1/conversations/erase-me/messages', { content: 'hello', userId: 'gone' });
  const erased = await runCli(['erase', '--tenant', stack.tenants.acme.id, '--user', 'gone', '--json'], stack.env);
  expect(erased.code, erased.stderr).toBe(0);
  expect(JSON.parse(erased.stdout)).toMatchObject({ conversations: 1, messages: 2, workflowsEnded: 1 });
  expect((await stack.http('GET', '/v1/conversations/erase-me')).status).toBe(404);
  const refused = await runCli(['erase', '--tenant', stack.tenants.acme.id], stack.env);
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toMatch(/say what to erase/);
});
