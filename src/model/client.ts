/**
 * Calls Claude through the real SDK, streaming, with the SDK's own retries off: one attempt per call, so every
 * attempt is a Temporal activity attempt and shows in workflow history.
 */
import Anthropic from '@anthropic-ai/sdk';
import { costUsd, type PricingTable, type TokenCounts } from './pricing';
import { InvalidModelResponse } from './errors';

export interface ModelCallResult {
  text: string;
  /** Every content block of the reply: text and, when the request offered tools, tool_use. */
  content: Anthropic.ContentBlock[];
  model: string;
  stopReason: string | null;
  requestId: string | undefined;
  tokens: TokenCounts;
  costUsd: number;
  latencyMs: number;
}

export interface ModelCallOptions {
  signal?: AbortSignal;
  /** Called with each text delta as it arrives (streaming to clients, heartbeats). */
  onText?: (delta: string) => void;
  timeoutMs?: number;
}

export function createAnthropic(opts: { apiKey: string; baseURL?: string | undefined }): Anthropic {
  return new Anthropic({ apiKey: opts.apiKey, baseURL: opts.baseURL ?? null, maxRetries: 0 });
}

export class ModelClient {
  constructor(
    readonly anthropic: Anthropic,
    readonly pricing: PricingTable,
  ) {}

  async call(
    request: Anthropic.MessageCreateParamsNonStreaming,
    opts: ModelCallOptions = {},
  ): Promise<ModelCallResult> {
    const started = performance.now();
    const stream = this.anthropic.messages.stream(request, {
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.timeoutMs ? { timeout: opts.timeoutMs } : {}),
      maxRetries: 0,
    });
    if (opts.onText) stream.on('text', opts.onText);
    const message = await stream.finalMessage();
    const text = message.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('');
    const stoppedForTools = message.stop_reason === 'tool_use';
    if (message.content.length > 0 && !text && message.stop_reason !== 'max_tokens' && !stoppedForTools) {
      throw new InvalidModelResponse('the model returned no text');
    }
    const tokens = tokenCounts(message.usage);
    return {
      text,
      content: message.content,
      model: message.model || request.model,
      stopReason: message.stop_reason,
      requestId: stream.request_id ?? undefined,
      tokens,
      costUsd: costUsd(this.pricing, request.model, tokens),
      latencyMs: Math.round(performance.now() - started),
    };
  }
}

/** Usage as the API reports it, with cache writes split by TTL when the API says which. */
export function tokenCounts(usage: Anthropic.Usage): TokenCounts {
  const write = usage.cache_creation_input_tokens ?? 0;
  const write1h = usage.cache_creation?.ephemeral_1h_input_tokens ?? 0;
  return {
    inputTokens: usage.input_tokens,
    outputTokens: usage.output_tokens,
    cacheReadTokens: usage.cache_read_input_tokens ?? 0,
    cacheWrite5mTokens: usage.cache_creation ? (usage.cache_creation.ephemeral_5m_input_tokens ?? 0) : write,
    cacheWrite1hTokens: write1h,
  };
}
