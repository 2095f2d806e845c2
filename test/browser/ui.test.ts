/**
 * The Temporal UI, as an operator uses it to inspect a conversation: find it by search attribute in the workflows
 * list, open it, and read its timeline — the activity summaries say what each step was for. Headless Chromium
 * (Debian's `chromium`, installed by scripts/chromium.sh) driven by playwright-core; the screenshot is kept under
 * test-results/ui/.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { TEST_SERVICES } from '../helpers/services';
import { startStack, type Stack } from '../helpers/stack';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(__dirname, '..', '..', 'test-results', 'ui');
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let stack: Stack;
let browser: BrowserContext;
let profile: string;

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: run scripts/chromium.sh`);
  stack = await startStack();
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: ARGS,
    viewport: { width: 1600, height: 1000 },
  });
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
});

/** Visibility is eventually consistent: reload the filtered list until the workflow shows up. */
async function findInList(page: Page, query: string, workflowId: string): Promise<void> {
  const url = `${TEST_SERVICES.temporalUi}/namespaces/default/workflows?query=${encodeURIComponent(query)}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    await page.goto(url);
    const link = page.getByRole('link', { name: workflowId, exact: true });
    try {
      await link.first().waitFor({ state: 'visible', timeout: 5_000 });
      await link.first().click();
      return;
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`${workflowId} never appeared in the list for ${query}: ${String(err)}`);
    }
  }
}

/** Waits until `text` is in the page or one of its frames. */
async function textInAnyFrame(page: Page, text: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const frame of page.frames()) {
      const body = await frame.evaluate(() => document.body?.innerText ?? '').catch(() => '');
      if (body.replace(/\s+/g, ' ').includes(text)) return;
    }
    await page.waitForTimeout(250);
  }
  throw new Error(`"${text}" did not appear on the page or in its frames`);
}

describe('a conversation in the Temporal UI', () => {
  it('is found by its TenantId search attribute and its timeline reads like the conversation', async () => {
    const tenant = stack.tenants.acme.id;
    expect((await stack.http('POST', '/v1/conversations', { conversationId: 'trip', userId: 'ada' })).status).toBe(201);
    const sent = await stack.http('POST', '/v1/conversations/trip/messages', { content: 'Hello! My name is Ada.' });
    expect(sent.status).toBe(200);
    const workflowId = `conversation/${tenant}/trip`;

    const page = await browser.newPage();
    await findInList(page, `TenantId="${tenant}"`, workflowId);

    // The workflow page opens on its history: the id as its title, the timeline and the event list below.
    await page.waitForURL(/\/history$/);
    await page.getByRole('heading', { name: workflowId }).waitFor({ state: 'visible', timeout: 30_000 });
    // The activity summaries the workflow sets: the timeline reads like the conversation.
    // One step per turn: the reply's call runs the context step and stores the turn too (a persist step shows only
    // for a degraded reply).
    for (const summary of ['context + reply · claude-sonnet-5-5 · turn 1']) {
      await page.getByText(summary).first().waitFor({ state: 'visible', timeout: 30_000 });
    }

    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const timeline = path.join(ARTIFACTS, 'conversation-timeline.png');
    await page.screenshot({ path: timeline, fullPage: true });
    expect(fs.statSync(timeline).size).toBeGreaterThan(10_000);

    // User Metadata: the workflow's summary and the steps as a list.
    await page.getByText('User Metadata', { exact: true }).first().click();
    // Summary and current details are markdown, which the UI renders in sandboxed frames: read every frame.
    await textInAnyFrame(page, `Conversation trip · tenant ${tenant} · user ada`);
    await textInAnyFrame(page, 'Last turn 1 · claude-sonnet-5-5 · attempt 1');
    await page.getByText('Events with Metadata').waitFor({ state: 'visible' });
    const metadata = path.join(ARTIFACTS, 'conversation-metadata.png');
    await page.screenshot({ path: metadata });
    expect(fs.statSync(metadata).size).toBeGreaterThan(10_000);
  });
});
