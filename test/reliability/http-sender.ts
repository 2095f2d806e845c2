/**
 * A client of HTTP API v1, as an application would write one: it reads the status code and the documented error
 * code, honours Retry-After, and bounds every request in time so a hung connection cannot stall a scenario.
 */
import type { Reply } from '../../workflows/contract';
import type { Sender, SendResult } from './driver';

export interface HttpSenderOptions {
  baseUrl: string;
  apiKey: string;
  /** Longest a single request may take before the client gives up on it (then it re-sends). */
  requestTimeoutMs: number;
  /** Called with the latency of every request that returned a reply, ms. */
  onReplyLatency?: (ms: number) => void;
  /** Called after every request with how long it took and what it answered. */
  onResult?: (ms: number, result: SendResult) => void;
}

export function httpSender(opts: HttpSenderOptions): Sender {
  const send = httpSend(opts);
  return async (conversationId, messageId, content) => {
    const started = performance.now();
    const result = await send(conversationId, messageId, content);
    opts.onResult?.(performance.now() - started, result);
    return result;
  };
}

function httpSend(opts: HttpSenderOptions): Sender {
  return async (conversationId, messageId, content): Promise<SendResult> => {
    const started = performance.now();
    let res: Response;
    let body: { reply?: Reply; error?: { code?: string } } | undefined;
    try {
      res = await fetch(`${opts.baseUrl}/v1/conversations/${conversationId}/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${opts.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ content, messageId, userId: 'reliability' }),
        signal: AbortSignal.timeout(opts.requestTimeoutMs),
      });
      const text = await res.text();
      body = text ? (JSON.parse(text) as typeof body) : undefined;
    } catch (err) {
      const name = (err as Error).name;
      return { kind: 'retry', code: name === 'TimeoutError' ? 'client timeout' : 'network error' };
    }
    const code = `${res.status} ${body?.error?.code ?? ''}`.trim();
    if (res.status === 200 && body?.reply) {
      opts.onReplyLatency?.(performance.now() - started);
      return { kind: 'reply', reply: body.reply };
    }
    if (res.status === 504 && body?.error?.code === 'reply_pending') return { kind: 'pending', code };
    // Whether an answer is one the API documents is for the verdict to judge (TurnLog.undocumented).
    if (res.status === 429 || res.status >= 500) return { kind: 'retry', code, ...retryAfter(res) };
    return { kind: 'fatal', code };
  };
}

function retryAfter(res: Response): { retryAfterMs?: number } {
  const seconds = Number(res.headers.get('retry-after'));
  return Number.isFinite(seconds) && seconds > 0 ? { retryAfterMs: seconds * 1000 } : {};
}
