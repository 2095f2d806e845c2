/**
 * A complete message as the Messages API streams it: message_start (with input usage), each content block — text
 * in text deltas, tool_use input in input_json deltas — then message_delta (stop reason, output tokens), message_stop.
 */
export type OfflineBlock =
  { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: unknown };

interface StreamableMessage {
  content: OfflineBlock[];
  usage: { output_tokens: number } & Record<string, unknown>;
  stop_reason: string;
  [key: string]: unknown;
}

const event = (name: string, data: unknown) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;

/** Splits on word boundaries into chunks of roughly `size` characters, as a model emits tokens. */
export function chunkText(text: string, size = 16, anywhere = false): string[] {
  const chunks: string[] = [];
  // JSON is cut anywhere: the SDK must put partial_json pieces back together whatever the boundaries.
  if (anywhere) {
    for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
    return chunks;
  }
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
  yield event('message_start', {
    type: 'message_start',
    message: { ...message, content: [], stop_reason: null, usage: { ...message.usage, output_tokens: 1 } },
  });
  // A message with no content still streams one (empty) text block, as before tool_use existed.
  const blocks: OfflineBlock[] = message.content.length > 0 ? message.content : [{ type: 'text', text: '' }];
  for (const [index, block] of blocks.entries()) {
    if (block.type === 'text') {
      yield event('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'text', text: '' },
      });
      if (index === 0) yield event('ping', { type: 'ping' });
      for (const chunk of chunkText(block.text)) {
        yield event('content_block_delta', {
          type: 'content_block_delta',
          index,
          delta: { type: 'text_delta', text: chunk },
        });
      }
    } else {
      yield event('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
      });
      if (index === 0) yield event('ping', { type: 'ping' });
      for (const chunk of chunkText(JSON.stringify(block.input ?? {}), 24, true)) {
        yield event('content_block_delta', {
          type: 'content_block_delta',
          index,
          delta: { type: 'input_json_delta', partial_json: chunk },
        });
      }
    }
    yield event('content_block_stop', { type: 'content_block_stop', index });
  }
  yield event('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: message.stop_reason, stop_sequence: null },
    usage: { output_tokens: message.usage.output_tokens },
  });
  yield event('message_stop', { type: 'message_stop' });
}
