/**
 * A reply as Server-Sent Events: `accepted`, then `attempt` / `restart` and `delta` events as the model writes (and
 * `tool_approval_required` when the turn pauses on a tool call that needs a person's decision), then `final` with the
 * stored reply, usage and cost (or `error`). `stream_degraded` right after `accepted` says the turn could not be
 * marked as streamed, so no deltas will come (the reply still does). Event ids come from the stream bus, so a
 * client that reconnects — same messageId, `Last-Event-ID` header — gets only what it missed; the same messageId
 * also means the same turn, never a second one.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { MemoirClient, MessageInput } from '../client/memoir-client';
import { MemoirError, toMemoirError } from '../client/errors';
import type { StreamBus, TurnChannel } from '../streaming/bus';

const KEEP_ALIVE_MS = 15_000;
/**
 * An event stream is exempt from the server's idle bound (it lives as long as its turn) but has its own: keep-alives
 * keep a reading client's socket busy, so one that has taken no bytes for this long is gone or stalled.
 */
export const SSE_IDLE_MS = 3 * KEEP_ALIVE_MS;
/** After the reply, how long the relay waits for the stream to go quiet (deltas still on their way). */
const QUIET_MS = 150;

export function wantsStream(req: FastifyRequest): boolean {
  const query = req.query as { stream?: string };
  return query.stream === 'true' || (req.headers.accept ?? '').includes('text/event-stream');
}

export async function streamReply(
  req: FastifyRequest,
  reply: FastifyReply,
  deps: { memoir: MemoirClient; streams: StreamBus; waitMs: number },
  channel: Omit<TurnChannel, 'messageId'>,
  msg: MessageInput & { messageId: string },
): Promise<void> {
  const lastEventId = req.headers['last-event-id'];
  reply.hijack();
  const res = reply.raw;
  // No callback: on expiry Node destroys the socket, which aborts the relay below through 'close'.
  res.setTimeout(SSE_IDLE_MS);
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  const write = (event: string, data: unknown, id?: string) =>
    res.write(`${id ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  write('accepted', { messageId: msg.messageId });

  const done = new AbortController();
  // The response closing means the client went away ('close' on the request fires once its body is read).
  res.on('close', () => done.abort());
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
  let lastEventAt = Date.now();
  const subscription = deps.streams
    .subscribe(
      { ...channel, messageId: msg.messageId },
      typeof lastEventId === 'string' ? lastEventId : undefined,
      ({ id, event }) => {
        lastEventAt = Date.now();
        if (event.type === 'delta') write('delta', { text: event.text }, id);
        else if (event.type === 'tool_approval_required') {
          write(event.type, { toolUseId: event.toolUseId, tool: event.tool, input: event.input }, id);
        } else write(event.restart ? 'restart' : 'attempt', { attempt: event.attempt, model: event.model }, id);
      },
      done.signal,
    )
    .catch(() => undefined);
  let last: { event: 'final' | 'error'; data: unknown };
  try {
    // Marked before the message is sent: the worker publishes deltas only for a turn someone listens to.
    await deps.streams.listen({ ...channel, messageId: msg.messageId }).catch((err: unknown) => {
      // The stream bus is unreachable (Redis down or in a blip). The turn still runs: its reply is durable and the
      // stream only a preview of it, and turns survive a Redis outage everywhere else. But the client is told now,
      // not left to take a silent stream for a slow model. No second try: the connection fails fast by design (it
      // is the memory tiers'), and what fails at once would fail again.
      req.log.warn({ err }, 'stream not marked as listened to: reply streamed without deltas');
      write('stream_degraded', {
        code: 'deltas_unavailable',
        message: 'the stream bus could not be reached: this reply comes without deltas, in the final event',
      });
    });
    const result = await deps.memoir.sendMessage(channel.tenantId, channel.conversationId, msg, {
      waitMs: deps.waitMs,
    });
    while (Date.now() - lastEventAt < QUIET_MS && !done.signal.aborted) await new Promise((r) => setTimeout(r, 50));
    last = { event: 'final', data: { messageId: result.messageId, reply: result.reply, usage: result.usage } };
  } catch (err) {
    const e = toMemoirError(err);
    const known = e instanceof MemoirError ? e : new MemoirError('internal', 500, 'internal error');
    if (!(e instanceof MemoirError)) req.log.error({ err }, 'streamed turn failed');
    last = { event: 'error', data: { error: { code: known.code, message: known.message, status: known.status } } };
  }
  clearInterval(keepAlive);
  // The relay stops before the last event is written: a refused turn is answered at once, while the channel may
  // still be replaying an earlier turn's deltas (a reused messageId), and nothing may follow `final` or `error`.
  done.abort();
  await subscription;
  write(last.event, last.data);
  res.end();
}
