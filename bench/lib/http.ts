/**
 * The load generator's HTTP calls to the Memoir API: one bearer key, JSON in and out, the round trip timed, and
 * the `Retry-After` header kept (a 503 with it is an answer the caller may retry).
 */

export interface HttpAnswer {
  status: number;
  body: any;
  /** Client-side round trip, ms. */
  ms: number;
  /** The `Retry-After` header in seconds, when the server sent a number of seconds. */
  retryAfterS?: number;
}

export type HttpCall = (method: string, route: string, body?: unknown) => Promise<HttpAnswer>;

/** Calls `baseUrl` with `Authorization: Bearer <key>`. */
export function httpCaller(baseUrl: string, key: string): HttpCall {
  return async (method, route, body) => {
    const t0 = performance.now();
    const res = await fetch(`${baseUrl}${route}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    const ms = performance.now() - t0;
    const retryAfter = res.headers.get('retry-after');
    const seconds = retryAfter !== null && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) : undefined;
    return {
      status: res.status,
      body: text ? JSON.parse(text) : undefined,
      ms,
      ...(seconds !== undefined ? { retryAfterS: seconds } : {}),
    };
  };
}
