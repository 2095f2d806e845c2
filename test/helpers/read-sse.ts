/** A streamed message as a client reads it: the Server-Sent Events of `POST …/messages` with a stream asked for. */
import type { Stack } from './stack';

export interface SseEvent {
  id?: string;
  event: string;
  data: any;
}

/** Reads SSE events until the stream ends or `stopAfter` says so (then the connection is dropped). */
export async function readSse(
  stack: Stack,
  conversationId: string,
  body: unknown,
  opts: { lastEventId?: string; stopAfter?: (events: SseEvent[]) => boolean } = {},
): Promise<SseEvent[]> {
  const abort = new AbortController();
  const res = await fetch(`${stack.serving.api!.url}/v1/conversations/${conversationId}/messages`, {
    method: 'POST',
    signal: abort.signal,
    headers: {
      authorization: `Bearer ${stack.tenants.acme.key}`,
      'content-type': 'application/json',
      accept: 'text/event-stream',
      ...(opts.lastEventId ? { 'last-event-id': opts.lastEventId } : {}),
    },
    body: JSON.stringify(body),
  });
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (block.startsWith(':')) continue;
        const field = (name: string) =>
          /^(\w+): (.*)$/gm.exec(block) && [...block.matchAll(/^(\w+): (.*)$/gm)].find((m) => m[1] === name)?.[2];
        events.push({
          ...(field('id') ? { id: field('id')! } : {}),
          event: field('event')!,
          data: JSON.parse(field('data')!),
        });
        if (opts.stopAfter?.(events)) {
          abort.abort();
          return events;
        }
      }
    }
  } catch (err) {
    if (!abort.signal.aborted) throw err;
  }
  return events;
}
