/**
 * The client package (packages/client, `@memoir/client`) is built from the server's client code; these keep the
 * pieces it carries on its own in step with the server's.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CLIENT_VERSION, DEFAULT_POLICY, type ConversationWorkflow } from '../packages/client/src';
import { loadConfig } from '../src/config';
import type { conversationWorkflow } from '../workflows/conversation';

it('hands new conversations the server’s default policy', () => {
  expect(DEFAULT_POLICY).toEqual(loadConfig({}).policy);
});

it('types conversation handles by the workflow’s real signature', () => {
  expectTypeOf<typeof conversationWorkflow>().toEqualTypeOf<ConversationWorkflow>();
});

it('states the version its package.json publishes', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'packages', 'client', 'package.json'), 'utf8'));
  expect(pkg.version).toBe(CLIENT_VERSION);
});
