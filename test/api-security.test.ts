/**
 * The API's security edges, end to end on a real stack: authentication on the matched route whatever the spelling of
 * the path, tenant ids validated wherever they enter, request logs an auditor can use, readiness without error text,
 * and bounded request times.
 */
import fs from 'node:fs';
import { StaticApiKeys } from '../src/api/auth';
import { createApi } from '../src/api/server';
import { apiOptions } from '../src/runtime/api';
import { ApiKeyStore } from '../src/security/api-keys';
import { openPostgres } from '../src/storage/db';
import { fillRoute, rawRequest, trickleUpload, validBody } from './helpers/raw-http';
import { startStack, type Stack } from './helpers/stack';

const REQUEST_TIMEOUT_MS = 2000;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { MEMOIR_REQUEST_TIMEOUT: `${REQUEST_TIMEOUT_MS}ms` } });
  const created = await stack.http('POST', '/v1/conversations/target/messages', {
    content: 'the launch code is 0000',
    messageId: 'm-1',
    userId: 'ada',
  });
  expect(created.status).toBe(200);
});
afterAll(() => stack?.stop());

/** Spellings of a path that a router may decode or fold into the same route. */
const SPELLINGS: [name: string, spell: (path: string) => string][] = [
  ['as registered', (p) => p],
  ['%76 for v', (p) => p.replace(/^\/v1/, '/%761')],
  ['%31 for 1', (p) => p.replace(/^\/v1/, '/v%31')],
  ['both encoded', (p) => p.replace(/^\/v1/, '/%76%31')],
  ['lower-case hex in the second segment', (p) => p.replace('/conversations', '/%63onversation%73')],
  ['encoded conversation id', (p) => p.replace('/target', '/%74arget')],
  ['encoded message id', (p) => p.replace('/m-1/', '/m%2D1/')],
  ['encoded tool use id', (p) => p.replace('/toolu_1/', '/toolu%5F1/')],
  ['upper-case hex in the tool-calls segment', (p) => p.replace('/tool-calls', '/tool%2Dcalls')],
];

async function waitForLogLine(match: (line: any) => boolean, timeoutMs = 10_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = fs.existsSync(stack.logFile) ? fs.readFileSync(stack.logFile, 'utf8').split('\n') : [];
    const found = lines
      .filter(Boolean)
      .map((l) => JSON.parse(l) as unknown)
      .find(match);
    if (found || Date.now() > deadline) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('authentication happens on the matched /v1 route, never on the raw URL', () => {
  const v1Routes = () => stack.serving.api!.routes.filter((r) => r.url.startsWith('/v1/'));

  it('knows every /v1 route (the table below covers each one)', () => {
    const names = v1Routes().map((r) => `${r.method} ${r.url}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'POST /v1/conversations',
        'POST /v1/conversations/:id/messages',
        'GET /v1/conversations/:id',
        'GET /v1/conversations/:id/messages',
        'GET /v1/conversations/:id/messages/:messageId/context',
        'POST /v1/conversations/:id/context',
        'DELETE /v1/conversations/:id',
        'POST /v1/conversations/:id/tool-calls/:toolUseId/approve',
        'POST /v1/conversations/:id/tool-calls/:toolUseId/deny',
        'GET /v1/conversations/:id/tool-calls',
      ]),
    );
  });

  it('answers 401 to every spelling of every /v1 route without a key or with a wrong one', async () => {
    const outcomes: string[] = [];
    for (const route of v1Routes()) {
      const path = fillRoute(route.url, { id: 'target', messageId: 'm-1', toolUseId: 'toolu_1' });
      for (const [name, spell] of SPELLINGS) {
        const spelled = spell(path);
        for (const key of [undefined, 'mk_not_a_real_key_0000000000']) {
          const res = await rawRequest(stack.serving.api!.url, route.method, spelled, {
            key,
            body: validBody(route.method, route.url),
          });
          if (res.status !== 401)
            outcomes.push(`${route.method} ${spelled} (${name}, ${key ? 'wrong key' : 'no key'}) → ${res.status}`);
        }
      }
    }
    expect(outcomes).toEqual([]);
    // Nothing reached a tenant without a name.
    const anonymous = await stack.serving.services.db.query(
      `SELECT count(*)::int AS n FROM conversations WHERE tenant_id = ''`,
    );
    expect(anonymous[0]).toEqual({ n: 0 });
  });

  it("serves an encoded spelling to a valid key in that key's tenant", async () => {
    const res = await rawRequest(stack.serving.api!.url, 'POST', '/%761/conversations', {
      key: stack.tenants.acme.key,
      body: JSON.stringify({ conversationId: 'encoded-path', userId: 'ada' }),
    });
    expect(res.status).toBe(201);
    expect(JSON.parse(res.body).workflowId).toBe(`conversation/${stack.tenants.acme.id}/encoded-path`);
  });
});

describe('tool-call routes through odd spellings', () => {
  const spellings = [
    '/v1/conversations/target/tool-calls',
    '/%761/conversations/%74arget/tool%2Dcalls',
    '/v%31/%63onversation%73/target/tool-calls?include=io',
  ];

  it("list the key's tenant's calls and hide another tenant's conversation", async () => {
    for (const path of spellings) {
      const own = await rawRequest(stack.serving.api!.url, 'GET', path, { key: stack.tenants.acme.key });
      expect(own.status, path).toBe(200);
      expect(JSON.parse(own.body)).toEqual({ toolCalls: [] });
      const foreign = await rawRequest(stack.serving.api!.url, 'GET', path, { key: stack.tenants.globex.key });
      expect(foreign.status, path).toBe(404);
      expect(JSON.parse(foreign.body).error.code).toBe('not_found');
    }
  });

  it("decide only in the key's tenant: a foreign key finds no conversation, the owner finds no pending call", async () => {
    for (const path of [
      '/v1/conversations/target/tool-calls/toolu_1/approve',
      '/%761/conversations/%74arget/tool-calls/toolu%5F1/deny',
      '/v1/conversations/target/tool%2Dcalls/toolu_1/%61pprove',
    ]) {
      const foreign = await rawRequest(stack.serving.api!.url, 'POST', path, {
        key: stack.tenants.globex.key,
        body: '{}',
      });
      expect(foreign.status, path).toBe(404);
      const own = await rawRequest(stack.serving.api!.url, 'POST', path, { key: stack.tenants.acme.key, body: '{}' });
      expect(own.status, path).toBe(409);
      expect(JSON.parse(own.body).error.code).toBe('tool_call_not_pending');
    }
  });
});

describe('tenant ids are validated like every other id', () => {
  it('refuses an empty or malformed tenant id for a configured key, a stored key, the client and erasure', async () => {
    expect(() => new StaticApiKeys([{ tenantId: '', key: 'k'.repeat(32) }])).toThrow(/invalid tenant id/);
    expect(() => new StaticApiKeys([{ tenantId: 'a/b', key: 'k'.repeat(32) }])).toThrow(/invalid tenant id/);
    const { db, memoir, eraser } = stack.serving.services;
    await expect(new ApiKeyStore(db).create('')).rejects.toThrow(/invalid tenant id/);
    await expect(memoir.sendMessage('', 'c', { content: 'hi', userId: 'u' })).rejects.toMatchObject({
      code: 'invalid_tenant',
      status: 400,
    });
    await expect(memoir.startConversation('', { userId: 'u' })).rejects.toMatchObject({ code: 'invalid_tenant' });
    await expect(memoir.messages('', 'target')).rejects.toMatchObject({ code: 'invalid_tenant' });
    await expect(eraser.eraseConversation('', 'target')).rejects.toThrow(/invalid tenant id/);
    const rows = await db.query(`SELECT count(*)::int AS n FROM api_keys WHERE tenant_id = ''`);
    expect(rows[0]).toEqual({ n: 0 });
  });
});

describe('request logs', () => {
  it('log method, URL, client address and status of every request, and never the bearer key', async () => {
    const refused = await rawRequest(stack.serving.api!.url, 'POST', '/%761/conversations?probe=refused', {
      body: '{}',
    });
    expect(refused.status).toBe(401);
    const served = await rawRequest(stack.serving.api!.url, 'GET', '/v1/conversations/target?probe=served', {
      key: stack.tenants.acme.key,
    });
    expect(served.status).toBe(200);
    const lineFor = (url: string) => (l: any) => l.msg === 'request completed' && l.req?.url === url;
    const refusedLine = await waitForLogLine(lineFor('/%761/conversations?probe=refused'));
    expect(refusedLine).toMatchObject({
      req: { method: 'POST', remoteAddress: '127.0.0.1' },
      res: { statusCode: 401 },
    });
    expect(refusedLine.req.remotePort).toEqual(expect.any(Number));
    const servedLine = await waitForLogLine(lineFor('/v1/conversations/target?probe=served'));
    expect(servedLine).toMatchObject({ req: { method: 'GET', remoteAddress: '127.0.0.1' }, res: { statusCode: 200 } });
    expect(fs.readFileSync(stack.logFile, 'utf8')).not.toContain(stack.tenants.acme.key);
  });
});

describe('readiness', () => {
  it('names each dependency and says ok or unavailable, keeping the error text for the log', async () => {
    const unreachable = openPostgres('postgres://memoir:hunter2@127.0.0.1:1/memoir', 1);
    const app = createApi({
      ...apiOptions(stack.serving.services),
      ready: {
        database: () => unreachable.query('SELECT 1'),
        temporal: () => stack.serving.services.temporal.connection.workflowService.getSystemInfo({}),
      },
    });
    try {
      const res = await app.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({ ok: false, checks: { database: 'unavailable', temporal: 'ok' } });
      expect(res.body).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|hunter2/);
      const logged = await waitForLogLine((l) => l.msg === 'readiness check failed' && l.dependency === 'database');
      expect(logged?.err?.message).toMatch(/ECONNREFUSED/);
    } finally {
      await app.close();
      await unreachable.close();
    }
  });
});

describe('request timeouts', () => {
  it('cuts off a client that trickles its request body byte by byte (408, connection closed)', async () => {
    const result = await trickleUpload(
      stack.serving.api!.url,
      '/v1/conversations/target/messages',
      { authorization: `Bearer ${stack.tenants.acme.key}`, 'content-type': 'application/json' },
      { intervalMs: 100, giveUpMs: 10 * REQUEST_TIMEOUT_MS },
    );
    expect(result.answer).toMatch(/^HTTP\/1\.1 408/);
    expect(result.openForMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
  });

  it('does not cut a reply or an event stream that takes longer than the request timeout', async () => {
    await stack.offline.script([], { latencyMs: REQUEST_TIMEOUT_MS + 1000 });
    try {
      const sync = await stack.http('POST', '/v1/conversations/slow-sync/messages', {
        content: 'take your time',
        userId: 'bo',
      });
      expect(sync.status).toBe(200);
      const res = await fetch(`${stack.serving.api!.url}/v1/conversations/slow-sse/messages`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${stack.tenants.acme.key}`,
          'content-type': 'application/json',
          accept: 'text/event-stream',
        },
        body: JSON.stringify({ content: 'stream it slowly', userId: 'bo' }),
      });
      const text = await res.text();
      expect(text).toContain('event: accepted');
      expect(text).toContain('event: final');
    } finally {
      await stack.offline.script([], { latencyMs: 0 });
    }
  });
});
