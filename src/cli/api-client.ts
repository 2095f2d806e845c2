/**
 * A small client for HTTP API v1, used by `memoir chat` and `memoir demo`.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ConversationState, TurnResult } from '../../workflows/contract';
import type { ToolCallView } from '../client/tool-calls';

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

/** A tool call the turn is paused on, as the `tool_approval_required` event carries it. */
export interface ApprovalRequest {
  toolUseId: string;
  tool: string;
  input?: unknown;
  expiresAt?: string;
}

export interface StreamHandlers {
  onDelta: (text: string) => void;
  onRestart?: () => void;
  /**
   * The turn waits for a decision on this call (approve or deny it through `approveToolCall` / `denyToolCall`);
   * `turnOver` aborts when the turn ended without one (the call timed out, the turn failed).
   */
  onApprovalRequired?: (request: ApprovalRequest, turnOver: AbortSignal) => unknown;
}

const enc = encodeURIComponent;

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

  createConversation(body: { conversationId?: string; userId: string; systemPrompt?: string; tools?: string[] }) {
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
   * is retried after text was shown, `onApprovalRequired` when the turn waits for a decision on a tool call);
   * resolves with the stored turn.
   */
  async sendStreaming(conversationId: string, content: string, handlers: StreamHandlers): Promise<TurnResult> {
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
    const decisions: Promise<unknown>[] = [];
    // Aborted when the turn is over: a question still open then has no answer to wait for.
    const turnOver = new AbortController();
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
        else if (event === 'tool_approval_required') {
          // Not awaited: the stream keeps being read while a person decides (the turn may also time the call out).
          const request = payload as unknown as ApprovalRequest;
          decisions.push(
            Promise.resolve()
              .then(() => handlers.onApprovalRequired?.(request, turnOver.signal))
              .catch(() => undefined),
          );
        } else if (event === 'final') {
          turnOver.abort();
          await Promise.all(decisions);
          return payload as unknown as TurnResult;
        } else if (event === 'error' && payload.error) {
          turnOver.abort();
          throw new ApiError(payload.error.status, payload.error.code, payload.error.message);
        }
      }
    }
    turnOver.abort();
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

  approveToolCall(conversationId: string, toolUseId: string, decision: { by?: string; reason?: string } = {}) {
    return this.request<{ toolUseId: string; decision: 'approved'; by: string }>(
      'POST',
      `/v1/conversations/${enc(conversationId)}/tool-calls/${enc(toolUseId)}/approve`,
      decision,
    );
  }

  denyToolCall(conversationId: string, toolUseId: string, decision: { by?: string; reason?: string } = {}) {
    return this.request<{ toolUseId: string; decision: 'denied'; by: string }>(
      'POST',
      `/v1/conversations/${enc(conversationId)}/tool-calls/${enc(toolUseId)}/deny`,
      decision,
    );
  }

  toolCalls(conversationId: string, options: { includeIo?: boolean; messageId?: string } = {}) {
    const query = new URLSearchParams({
      ...(options.includeIo ? { include: 'io' } : {}),
      ...(options.messageId ? { messageId: options.messageId } : {}),
    }).toString();
    return this.request<{ toolCalls: ToolCallView[] }>(
      'GET',
      `/v1/conversations/${enc(conversationId)}/tool-calls${query ? `?${query}` : ''}`,
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
