/**
 * Every HTTP answer names the API version that gave it (src/version.ts, CHANGELOG.md), so a client can tell which
 * contract it is talking to during a rollout, even from an error.
 */
import { API_VERSION, API_VERSION_HEADER } from '../src/version';
import { startStack, type Stack } from './helpers/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(() => stack?.stop());

it('is a semver version', () => {
  expect(API_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
});

it.each([
  ['an answer', 'GET', '/healthz', undefined, 200],
  ['an unauthenticated call', 'POST', '/v1/conversations', 'no-such-key', 401],
  ['an unknown route', 'GET', '/no/such/route', undefined, 404],
])('is sent with %s', async (_what, method, route, key, status) => {
  const res = await fetch(`${stack.serving.api!.url}${route}`, {
    method,
    headers: key ? { authorization: `Bearer ${key}` } : {},
  });
  expect(res.status).toBe(status);
  expect(res.headers.get(API_VERSION_HEADER)).toBe(API_VERSION);
});
