/**
 * A small client for HTTP API v1, used by `memoir chat` and `memoir demo`.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ConversationState, TurnResult } from '../../workflows/contract';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`${message} (HTTP ${status} ${code})`);
  }
}

export interface StoredMessageView {
  messageId: string;
  seq: number;
  role: 'user' | 'assistant';
  content: string;
  createdAt: string;
  model?: string;
  degraded?: boolean;
}

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly key: string,
  ) {}

  /** MEMOIR_API_URL / MEMOIR_API_KEY, else the local `serve` and its demo key. */
  static fromEnv(dataDir: string, port: number): ApiClient {
    const url = process.env.MEMOIR_API_URL ?? `http://127.0.0.1:${port}`;
    const keyFile = path.join(dataDir, 'demo-api-key');
    const key = process.env.MEMOIR_API_KEY ?? (fs.existsSync(keyFile) ? fs.readFileSync(keyFile, 'utf8').trim() : '');
    if (!key) throw new Error('no API key: set MEMOIR_API_KEY (or start `memoir serve`, which creates a demo key)');
    return new ApiClient(url, key);
  }

  createConversation(body: { conversationId?: string; userId: string; systemPrompt?: string }) {
    return this.request<{ conversationId: string; workflowId: string; runId: string }>(
      'POST',
      '/v1/conversations',
      body,
    );
  }

  send(conversationId: string, content: string, messageId?: string, sentAt?: string) {
    return this.request<TurnResult>('POST', `/v1/conversations/${conversationId}/messages`, {
      content,
      ...(messageId ? { messageId } : {}),
      ...(sentAt ? { sentAt } : {}),
    });
  }

  /**
   * Sends a message and streams the reply: `onDelta` gets text as the model writes it (`onRestart` when an attempt
   * is retried after text was shown); resolves with the stored turn.
   */
  async sendStreaming(
    conversationId: string,
    content: string,
    handlers: { onDelta: (text: string) => void; onRestart?: () => void },
  ): Promise<TurnResult> {
    const res = await fetch(new URL(`/v1/conversations/${conversationId}/messages`, this.baseUrl), {
      method: 'POST',
      headers: { authorization: `Bearer ${this.key}`, 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ content }),
    });
    if (!res.ok || !res.body) {
      const err = ((await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } }).error;
      throw new ApiError(res.status, err?.code ?? 'error', err?.message ?? res.statusText);
    }
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (!event || !data) continue;
        const payload = JSON.parse(data) as {
          text?: string;
          error?: { status: number; code: string; message: string };
        };
        if (event === 'delta') handlers.onDelta(payload.text ?? '');
        else if (event === 'restart') handlers.onRestart?.();
        else if (event === 'final') return payload as unknown as TurnResult;
        else if (event === 'error' && payload.error) {
          throw new ApiError(payload.error.status, payload.error.code, payload.error.message);
        }
      }
    }
    throw new ApiError(502, 'stream_ended', 'the stream ended before the reply');
  }

  state(conversationId: string) {
    return this.request<ConversationState>('GET', `/v1/conversations/${conversationId}`);
  }

  messages(conversationId: string, limit = 50) {
    return this.request<{ messages: StoredMessageView[] }>(
      'GET',
      `/v1/conversations/${conversationId}/messages?limit=${limit}`,
    );
  }

  async request<T>(method: string, route: string, body?: unknown): Promise<T> {
    const res = await fetch(new URL(route, this.baseUrl), {
      method,
      headers: { authorization: `Bearer ${this.key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    const json = text ? (JSON.parse(text) as unknown) : undefined;
    if (!res.ok) {
      const err = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new ApiError(res.status, err?.code ?? 'error', err?.message ?? res.statusText);
    }
    return json as T;
  }
}
