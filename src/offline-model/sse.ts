/**
 * A complete message as the Messages API streams it: message_start (with input usage), a text block delivered in
 * deltas, message_delta (stop reason, output tokens), message_stop.
 */
interface StreamableMessage {
  content: { type: 'text'; text: string }[];
  usage: { output_tokens: number } & Record<string, unknown>;
  stop_reason: string;
  [key: string]: unknown;
}

const event = (name: string, data: unknown) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;

/** Splits on word boundaries into chunks of roughly `size` characters, as a model emits tokens. */
export function chunkText(text: string, size = 16): string[] {
  const chunks: string[] = [];
  let current = '';
  for (const word of text.split(/(?<=\s)/)) {
    current += word;
    if (current.length >= size) {
      chunks.push(current);
      current = '';
    }
  }
  if (current) chunks.push(current);
  return chunks;
}

export function* sseEvents(message: StreamableMessage): Generator<string> {
  const text = message.content[0]?.text ?? '';
  yield event('message_start', {
    type: 'message_start',
    message: { ...message, content: [], stop_reason: null, usage: { ...message.usage, output_tokens: 1 } },
  });
  yield event('content_block_start', {
    type: 'content_block_start',
    index: 0,
    content_block: { type: 'text', text: '' },
  });
  yield event('ping', { type: 'ping' });
  for (const chunk of chunkText(text)) {
    yield event('content_block_delta', {
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'text_delta', text: chunk },
    });
  }
  yield event('content_block_stop', { type: 'content_block_stop', index: 0 });
  yield event('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: message.stop_reason, stop_sequence: null },
    usage: { output_tokens: message.usage.output_tokens },
  });
  yield event('message_stop', { type: 'message_stop' });
}
