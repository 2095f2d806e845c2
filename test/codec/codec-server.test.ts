/**
 * The codec server the Temporal UI calls, over HTTP, with a real codec on a real PostgreSQL database: bearer
 * auth, CORS for the configured UI origin only, and clear 4xx answers for bad requests.
 */
import { defaultPayloadConverter } from '@temporalio/common';
import type { FastifyInstance } from 'fastify';
import { createCodecServer, DataKeyStore, EncryptionCodec, generateMasterKey, parseMasterKeys } from '../../src/codec';
import { isLoopback } from '../../src/codec/codec-server';
import { openPostgres, type Db } from '../../src/storage/db';
import { migrate } from '../../src/storage/migrate';
import { trickleUpload } from '../helpers/raw-http';
import { freshDatabase, uniqueId } from '../helpers/stack';

const TOKEN = 'codec_token_0123456789abcdef';
const UI = 'http://localhost:8233';

let db: Db;
let drop: () => Promise<void>;
let app: FastifyInstance;
let url: string;
let codec: EncryptionCodec;

beforeAll(async () => {
  const database = await freshDatabase();
  drop = () => database.drop();
  db = openPostgres(database.url, 2);
  await migrate(db);
  codec = new EncryptionCodec({ keys: new DataKeyStore(db, parseMasterKeys(`m1:${generateMasterKey()}`)) });
  app = createCodecServer({ codec, tokens: [TOKEN], allowedOrigins: [`${UI}/`], bodyLimit: 64 * 1024 });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await app?.close();
  await db?.close();
  await drop?.();
});

const post = (route: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${url}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...headers },
    body,
  });

describe('codec server', () => {
  it('refuses requests without a valid bearer token, with a JSON error the UI can read', async () => {
    const body = JSON.stringify({ payloads: [] });
    for (const authorization of ['', 'Bearer wrong-token-0123456789', `Basic ${TOKEN}`]) {
      const res = await post('/codec/decode', body, { authorization, origin: UI });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: { code: 'unauthorized', message: expect.stringMatching(/token/) } });
      // CORS headers even on the error, or the browser hides the reason.
      expect(res.headers.get('access-control-allow-origin')).toBe(UI);
    }
  });

  it('answers the preflight of the allowed origin with the headers the UI sends', async () => {
    const res = await fetch(`${url}/codec/decode`, {
      method: 'OPTIONS',
      headers: {
        origin: UI,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-namespace,authorization',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(UI);
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    const allowed = res.headers.get('access-control-allow-headers')!.split(/,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(['content-type', 'x-namespace', 'authorization']));
    expect(res.headers.get('vary')).toContain('Origin');
  });

  it('gives other origins no CORS allowance', async () => {
    const preflight = await fetch(`${url}/codec/decode`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(403);
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect(preflight.headers.get('access-control-allow-headers')).toBeNull();
    const res = await post('/codec/decode', JSON.stringify({ payloads: [] }), { origin: 'https://evil.example' });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers 400 to malformed bodies and 413 to oversized ones', async () => {
    const cases = ['{"payloads": [', '{"payloads": "x"}', '{"payloads": [{"data": "not base64!"}]}', '{}'];
    for (const body of cases) {
      const res = await post('/codec/decode', body);
      expect(res.status).toBe(400);
      expect((await res.json()).error.code).toBe('invalid_request');
    }
    const big = JSON.stringify({ payloads: [{ data: 'A'.repeat(100 * 1024) }] });
    expect((await post('/codec/decode', big)).status).toBe(413);
  });

  it('encodes and decodes payloads in the UI wire format, and says 422 for undecodable ones', async () => {
    const p = defaultPayloadConverter.toPayload({ note: 'visible to operators only' });
    const wire = (x: typeof p) => ({
      metadata: Object.fromEntries(Object.entries(x.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
      data: Buffer.from(x.data!).toString('base64'),
    });
    const encoded = await post('/codec/encode', JSON.stringify({ payloads: [wire(p)] }), { 'x-namespace': 'default' });
    expect(encoded.status).toBe(200);
    const { payloads } = await encoded.json();
    expect(Buffer.from(payloads[0].metadata.encoding, 'base64').toString()).toBe('binary/encrypted');
    // No workflow context here: the UI's own input goes under the system key.
    expect(Buffer.from(payloads[0].metadata['encryption-key-id'], 'base64').toString()).toMatch(/^system@\d+$/);
    expect(Buffer.from(payloads[0].data, 'base64').includes('operators')).toBe(false);

    const decoded = await post('/codec/decode', JSON.stringify({ payloads }));
    expect(decoded.status).toBe(200);
    expect(await decoded.json()).toEqual({ payloads: [wire(p)] });

    const [tenantPayload] = await codec.encode([p], {
      type: 'workflow',
      namespace: 'default',
      workflowId: `conversation/${uniqueId('t')}/c`,
    });
    const unknown = wire(tenantPayload!);
    unknown.metadata['encryption-key-id'] = Buffer.from('t/never-issued@1').toString('base64');
    const res = await post('/codec/decode', JSON.stringify({ payloads: [unknown] }));
    expect(res.status).toBe(422);
    expect(await res.json()).toEqual({
      error: { code: 'undecodable', message: expect.stringContaining('t/never-issued@1') },
    });
  });

  it('refuses to start without tokens', () => {
    expect(() => createCodecServer({ codec, tokens: [], allowedOrigins: [UI] })).toThrow(/token/);
    expect(() => createCodecServer({ codec, tokens: ['short'], allowedOrigins: [UI] })).toThrow(/16\+/);
  });
});

describe('codec server trust and limits', () => {
  it('trusts the embedded UI origin without a token only from a loopback peer (the header is forgeable)', async () => {
    const embedded = createCodecServer({ codec, tokens: [TOKEN], allowedOrigins: [UI], trustedOrigins: [UI] });
    try {
      const decode = (remoteAddress: string) =>
        embedded.inject({
          method: 'POST',
          url: '/codec/decode',
          remoteAddress,
          headers: { origin: UI, 'content-type': 'application/json' },
          payload: JSON.stringify({ payloads: [] }),
        });
      expect((await decode('127.0.0.1')).statusCode).toBe(200);
      expect((await decode('::ffff:127.0.0.1')).statusCode).toBe(200);
      for (const peer of ['192.0.2.7', '::ffff:10.0.0.8', '2001:db8::1']) {
        const res = await decode(peer);
        expect(res.statusCode, peer).toBe(401);
        expect(res.json().error.code).toBe('unauthorized');
      }
    } finally {
      await embedded.close();
    }
  });

  it('knows which peer addresses are loopback', () => {
    for (const a of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) expect(isLoopback(a), a).toBe(true);
    for (const a of ['192.0.2.7', '10.0.0.1', '::ffff:10.0.0.1', '::', '0.0.0.0', 'fe80::1', '127', undefined])
      expect(isLoopback(a), String(a)).toBe(false);
  });

  it('cuts off a client that trickles its request body byte by byte (408, connection closed)', async () => {
    const slow = createCodecServer({ codec, tokens: [TOKEN], allowedOrigins: [UI], requestTimeoutMs: 500 });
    try {
      const slowUrl = await slow.listen({ host: '127.0.0.1', port: 0 });
      const result = await trickleUpload(
        slowUrl,
        '/codec/decode',
        { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        { intervalMs: 50, giveUpMs: 10_000 },
      );
      expect(result.answer).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      await slow.close();
    }
  });
});
