/**
 * HTTP requests with the path sent exactly as given: `fetch` normalises paths (dot segments, some escapes) before
 * sending, which would hide from a test what an attacker's raw request looks like.
 */
import http from 'node:http';
import net from 'node:net';

export interface RawResponse {
  status: number;
  body: string;
}

export function rawRequest(
  baseUrl: string,
  method: string,
  path: string,
  opts: { key?: string | undefined; body?: string | undefined } = {},
): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: {
          ...(opts.key ? { authorization: `Bearer ${opts.key}` } : {}),
          ...(opts.body !== undefined
            ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(opts.body) }
            : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A route template with its parameters filled in (`:id` → `id`, `:messageId` → `messageId`). */
export function fillRoute(template: string, params: Record<string, string>): string {
  return template.replace(/:(\w+)/g, (_, name: string) => params[name] ?? 'x');
}

/** A body each route would accept from its owner, so that only authentication can refuse it. */
export function validBody(method: string, template: string): string | undefined {
  if (method !== 'POST') return undefined;
  if (template.endsWith('/conversations')) return JSON.stringify({ userId: 'mallory' });
  if (template.endsWith('/messages')) return JSON.stringify({ content: 'hello from nowhere', userId: 'mallory' });
  if (template.endsWith('/context')) return JSON.stringify({ query: 'what do you know?' });
  return '{}';
}

/**
 * A client that sends a request's headers, then its body one byte at a time, `intervalMs` apart, never finishing
 * (slowloris). Resolves when the server closes the connection, with what the server said; rejects if the connection
 * is still open after `giveUpMs`.
 */
export function trickleUpload(
  baseUrl: string,
  path: string,
  headers: Record<string, string>,
  opts: { intervalMs: number; giveUpMs: number },
): Promise<{ answer: string; bytesSent: number; openForMs: number }> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect({ host: url.hostname, port: Number(url.port) });
    let answer = '';
    let bytesSent = 0;
    let drip: NodeJS.Timeout | undefined;
    const giveUp = setTimeout(() => {
      clearInterval(drip);
      socket.destroy();
      reject(new Error(`the server still held the connection after ${opts.giveUpMs} ms (${bytesSent} bytes sent)`));
    }, opts.giveUpMs);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (answer += d));
    socket.on('error', () => undefined); // a reset is a close too
    socket.once('connect', () => {
      const head = Object.entries({ host: url.host, 'content-length': '100000', ...headers })
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      socket.write(`POST ${path} HTTP/1.1\r\n${head}\r\n`);
      drip = setInterval(() => {
        if (socket.writable) {
          socket.write('x');
          bytesSent++;
        }
      }, opts.intervalMs);
    });
    socket.once('close', () => {
      clearInterval(drip);
      clearTimeout(giveUp);
      resolve({ answer, bytesSent, openForMs: Date.now() - started });
    });
  });
}
