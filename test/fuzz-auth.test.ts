/**
 * Authentication and tenant isolation under generated paths: every /v1 route, spelled in the ways a router may
 * decode or fold (percent-encoded letters, digits and slashes, double and trailing slashes, dot segments, case,
 * `;` parameters, overlong and unicode ids), without a key and with another tenant's key. None may answer 2xx (or
 * 5xx), and the owner's conversation is untouched afterwards.
 */
import fc from 'fast-check';
import type { RouteSummary } from '../src/api/server';
import { rawRequest, validBody } from './helpers/raw-http';
import { startStack, type Stack } from './helpers/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
  const sent = await stack.http('POST', '/v1/conversations/target/messages', {
    content: 'only acme may read this',
    messageId: 'm-1',
    userId: 'ada',
  });
  expect(sent.status).toBe(200);
});
afterAll(() => stack?.stop());

const hex = (text: string, lower: boolean) =>
  [...Buffer.from(text, 'utf8')]
    .map((b) => `%${lower ? b.toString(16).padStart(2, '0') : b.toString(16).toUpperCase().padStart(2, '0')}`)
    .join('');
/** Fullwidth lookalikes (`ｖ１`), which some normalisations fold to ASCII. */
const fullwidth = (text: string) =>
  [...text].map((c) => (/[!-~]/.test(c) ? String.fromCharCode(c.charCodeAt(0) + 0xfee0) : c)).join('');

/** One literal segment (`v1`, `conversations`...) spelled another way. */
const spelledSegment = (segment: string) =>
  fc.oneof(
    { arbitrary: fc.constant(segment), weight: 4 },
    {
      arbitrary: fc
        .tuple(fc.array(fc.boolean(), { minLength: segment.length, maxLength: segment.length }), fc.boolean())
        .map(([mask, lower]) => [...segment].map((c, i) => (mask[i] ? hex(c, lower) : c)).join('')),
      weight: 6,
    },
    { arbitrary: fc.constantFrom(segment.toUpperCase(), segment[0]!.toUpperCase() + segment.slice(1)), weight: 1 },
    { arbitrary: fc.constantFrom(';', ';x=1', ';jsessionid=0').map((p) => segment + p), weight: 1 },
    { arbitrary: fc.constant(encodeURIComponent(fullwidth(segment))), weight: 1 },
  );

/** A value for an id parameter: the real one spelled oddly, or something no id may be. */
const idValue = (real: string) =>
  fc.oneof(
    { arbitrary: spelledSegment(real), weight: 6 },
    { arbitrary: fc.integer({ min: 129, max: 700 }).map((n) => 'a'.repeat(n)), weight: 1 },
    { arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).map(encodeURIComponent), weight: 1 },
    { arbitrary: fc.constantFrom('.', '..', '%2e%2e', '%2E', '', '%00', `${real}%2F..`, `${real}%20`), weight: 1 },
  );

/** Changes to the path's structure after the segments are spelled. */
const structural = fc.oneof(
  { arbitrary: fc.constant((p: string) => p), weight: 6 },
  {
    arbitrary: fc.constantFrom('?', '?async=true', '#x', '?stream=true').map((q) => (p: string) => `${p}${q}`),
    weight: 2,
  },
  fc.nat().map((n) => (p: string) => {
    const slashes = [...p.matchAll(/\//g)].map((m) => m.index);
    const at = slashes[n % slashes.length]!;
    return `${p.slice(0, at)}/${p.slice(at)}`; // a double slash
  }),
  fc.constant((p: string) => `${p}/`),
  fc.constant((p: string) => `/${p}`),
  fc.tuple(fc.nat(), fc.constantFrom('/.', '/x/..', '/%2e', '/x/%2e%2e', '/.%2F')).map(([n, dots]) => (p: string) => {
    const slashes = [...p.matchAll(/\//g)].map((m) => m.index).filter((i) => i > 0);
    if (slashes.length === 0) return `${dots}${p}`;
    const at = slashes[n % slashes.length]!;
    return `${p.slice(0, at)}${dots}${p.slice(at)}`;
  }),
  fc.tuple(fc.nat(), fc.constantFrom('%2F', '%2f', '%5C')).map(([n, slash]) => (p: string) => {
    const slashes = [...p.matchAll(/\//g)].map((m) => m.index).filter((i) => i > 0);
    if (slashes.length === 0) return p;
    const at = slashes[n % slashes.length]!;
    return `${p.slice(0, at)}${slash}${p.slice(at + 1)}`;
  }),
);

/** A request path for `route`, each segment spelled independently, then its structure bent. */
const oddPath = (route: RouteSummary) =>
  fc
    .tuple(
      fc.tuple(
        ...route.url
          .split('/')
          .slice(1)
          .map((segment) =>
            segment === ':id' ? idValue('target') : segment === ':messageId' ? idValue('m-1') : spelledSegment(segment),
          ),
      ),
      structural,
    )
    .map(([segments, bend]) => bend(`/${segments.join('/')}`));

/** Routes that create in the caller's own tenant: for another tenant's key a 2xx there is its own conversation. */
const createsForCaller = (r: RouteSummary) =>
  r.method === 'POST' && (r.url === '/v1/conversations' || r.url === '/v1/conversations/:id/messages');

async function probe(routes: RouteSummary[], key: string | undefined, numRuns: number) {
  const seen = new Map<number, number>();
  const request = fc
    .constantFrom(...routes)
    .chain((route) => fc.record({ route: fc.constant(route), path: oddPath(route) }));
  await fc.assert(
    fc.asyncProperty(request, async ({ route, path }) => {
      const res = await rawRequest(stack.serving.api!.url, route.method, path, {
        key,
        body: validBody(route.method, route.url),
      });
      seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
      const what = `${route.method} ${path} (route ${route.url}) → ${res.status} ${res.body.slice(0, 160)}`;
      expect(res.status >= 200 && res.status < 300, what).toBe(false);
      expect(res.status, what).toBeLessThan(500);
    }),
    { numRuns, seed: 20261130, endOnFailure: true },
  );
  return Object.fromEntries([...seen.entries()].sort(([a], [b]) => a - b));
}

const v1Routes = () => stack.serving.api!.routes.filter((r) => r.url.startsWith('/v1/'));

it('answers no odd spelling of any /v1 route with 2xx or 5xx without a key', async () => {
  const counts = await probe(v1Routes(), undefined, 1500);
  console.log('no key: status counts', counts);
});

it("answers no odd spelling of a route reaching another tenant's conversation with 2xx or 5xx", async () => {
  const routes = v1Routes().filter((r) => !createsForCaller(r));
  expect(routes.length).toBeGreaterThanOrEqual(5);
  const counts = await probe(routes, stack.tenants.globex.key, 1500);
  console.log("another tenant's key: status counts", counts);
});

afterAll(async () => {
  // The owner still has exactly the conversation it had; nothing was created without a tenant.
  const listed = await stack.http('GET', '/v1/conversations/target/messages');
  expect(listed.status).toBe(200);
  expect(listed.body.messages.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant']);
  const anonymous = await stack.serving.services.db.query(
    `SELECT count(*)::int AS n FROM conversations WHERE tenant_id = ''`,
  );
  expect(anonymous[0]).toEqual({ n: 0 });
});
