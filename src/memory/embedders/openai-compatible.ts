/**
 * Any server that speaks OpenAI's `POST /v1/embeddings` (OpenAI itself, Ollama, Hugging Face TEI, vLLM, LiteLLM),
 * and the HTTP plumbing Voyage shares with it: Voyage's endpoint is a dialect of the same protocol.
 *
 * No retries here: Temporal is the one layer that retries. Errors say whether a retry can help.
 */
import { z } from 'zod';
import type { EmbedKind, Embedder } from '../types';

/** Request limits and transport options common to the HTTP embedders. */
export interface HttpEmbedderOptions {
  /** Per request. Default 30 s. */
  timeoutMs?: number;
  /** Most texts in one request; larger calls are split. */
  maxInputsPerRequest?: number;
  /** Most approximate tokens (characters / 4) in one request; larger calls are split. */
  maxTokensPerRequest?: number;
  /** For tests and proxies. Default: the global fetch. */
  fetch?: typeof fetch;
}

export interface OpenAICompatibleEmbedderOptions extends HttpEmbedderOptions {
  /** Base URL ending in the API version, e.g. `http://127.0.0.1:11434/v1` (Ollama); `/embeddings` is appended. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer`; local servers usually need none. */
  apiKey?: string;
  model: string;
  /** Dimension of the model's vectors; every response is checked against it. */
  dimensions: number;
  /** Send `dimensions` in the request (OpenAI text-embedding-3 can shorten vectors; other servers may reject it). */
  requestDimensions?: boolean;
  /** Prepended to query / document texts, for models trained with prefixes (e5: `query: `, nomic: `search_query: `). */
  queryPrefix?: string;
  documentPrefix?: string;
}

/** An embedding request failed; `retryable` says whether the same request may succeed later. */
export class EmbeddingError extends Error {
  constructor(
    message: string,
    readonly provider: string,
    readonly status: number | null,
    readonly retryable: boolean,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
    this.name = 'EmbeddingError';
  }
}

/** Embeds with any OpenAI-compatible `/v1/embeddings` endpoint. */
export class OpenAICompatibleEmbedder implements Embedder {
  readonly id: string;
  readonly dimensions: number;
  private readonly url: string;
  private readonly limits: RequestLimits;

  constructor(private readonly opts: OpenAICompatibleEmbedderOptions) {
    this.dimensions = opts.dimensions;
    this.id = `openai-compatible:${opts.model}:${opts.dimensions}`;
    this.url = `${opts.baseUrl.replace(/\/+$/, '')}/embeddings`;
    // TEI refuses more than 32 inputs per request by default (max_client_batch_size).
    this.limits = requestLimits(opts, { maxInputs: 32, maxTokens: 100_000 });
  }

  async embed(texts: string[], kind: EmbedKind): Promise<number[][]> {
    const prefix = (kind === 'query' ? this.opts.queryPrefix : this.opts.documentPrefix) ?? '';
    return embedInRequests('openai-compatible', texts, this.limits, async (batch) => {
      const body = {
        model: this.opts.model,
        input: batch.map((t) => prefix + t),
        encoding_format: 'float',
        ...(this.opts.requestDimensions ? { dimensions: this.dimensions } : {}),
      };
      const json = await postJson('openai-compatible', this.url, this.opts.apiKey, body, this.limits);
      return orderedEmbeddings('openai-compatible', json, batch.length, this.dimensions);
    });
  }
}

// ---- shared by the HTTP embedders ----

/** Resolved limits of one HTTP embedder. */
export interface RequestLimits {
  timeoutMs: number;
  maxInputs: number;
  maxTokens: number;
  fetch: typeof fetch;
}

/** The limits of `opts`, with the provider's defaults where unset. */
export function requestLimits(
  opts: HttpEmbedderOptions,
  defaults: { maxInputs: number; maxTokens: number },
): RequestLimits {
  return {
    timeoutMs: opts.timeoutMs ?? 30_000,
    maxInputs: opts.maxInputsPerRequest ?? defaults.maxInputs,
    maxTokens: opts.maxTokensPerRequest ?? defaults.maxTokens,
    fetch: opts.fetch ?? fetch,
  };
}

/** Characters / 4: close enough for English to keep requests under a provider's token limit with a margin. */
export const approxTokens = (text: string): number => Math.ceil(text.length / 4);

/**
 * Splits `texts` into requests within the limits, sends them one after another (concurrency would only meet the
 * provider's rate limit sooner), and returns the vectors in input order.
 */
export async function embedInRequests(
  provider: string,
  texts: string[],
  limits: Pick<RequestLimits, 'maxInputs' | 'maxTokens'>,
  request: (batch: string[]) => Promise<number[][]>,
): Promise<number[][]> {
  texts.forEach((t, i) => {
    // Every provider rejects an empty input; naming the index beats the provider's generic 400.
    if (t.trim() === '') throw new EmbeddingError(`${provider}: text ${i} is empty`, provider, null, false);
  });
  const out: number[][] = [];
  let batch: string[] = [];
  let tokens = 0;
  for (const text of texts) {
    const t = approxTokens(text);
    if (batch.length > 0 && (batch.length >= limits.maxInputs || tokens + t > limits.maxTokens)) {
      out.push(...(await request(batch)));
      batch = [];
      tokens = 0;
    }
    batch.push(text);
    tokens += t;
  }
  if (batch.length > 0) out.push(...(await request(batch)));
  return out;
}

/** POSTs JSON and returns the parsed body; every failure becomes an EmbeddingError with a clear message. */
export async function postJson(
  provider: string,
  url: string,
  apiKey: string | undefined,
  body: unknown,
  limits: Pick<RequestLimits, 'timeoutMs' | 'fetch'>,
): Promise<unknown> {
  let res: Response;
  let text: string;
  try {
    res = await limits.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(limits.timeoutMs),
    });
    // The timeout covers the body too: a server that stalls mid-response is as stuck as one that never answers.
    text = await res.text();
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const what =
      e.name === 'TimeoutError' ? `timed out after ${limits.timeoutMs} ms` : `failed: ${e.cause?.code ?? e.message}`;
    throw new EmbeddingError(`${provider}: POST ${url} ${what}`, provider, null, true);
  }
  if (!res.ok) {
    const retryable = res.status === 408 || res.status === 409 || res.status === 429 || res.status >= 500;
    throw new EmbeddingError(
      `${provider}: POST ${url} answered ${res.status}${errorDetail(text)}`,
      provider,
      res.status,
      retryable,
      retryAfterMs(res.headers),
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new EmbeddingError(`${provider}: POST ${url} answered non-JSON: ${text.slice(0, 200)}`, provider, 200, false);
  }
}

const errorBodySchema = z.union([
  z.object({ detail: z.string() }), // Voyage
  z.object({ error: z.object({ message: z.string() }) }), // OpenAI, Ollama
  z.object({ error: z.string() }), // TEI
  z.object({ message: z.string() }),
]);

function errorDetail(body: string): string {
  if (!body) return '';
  try {
    const parsed = errorBodySchema.safeParse(JSON.parse(body));
    if (parsed.success) {
      const b = parsed.data;
      const message =
        'detail' in b ? b.detail : 'error' in b ? (typeof b.error === 'string' ? b.error : b.error.message) : b.message;
      return `: ${message}`;
    }
  } catch {
    // not JSON: fall through to the raw text
  }
  return `: ${body.slice(0, 300)}`;
}

function retryAfterMs(headers: Headers): number | null {
  const ms = Number(headers.get('retry-after-ms'));
  if (headers.has('retry-after-ms') && Number.isFinite(ms)) return ms;
  const value = headers.get('retry-after');
  if (value === null) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - Date.now());
}

const embeddingsResponseSchema = z.object({
  data: z.array(z.object({ index: z.number().int().nonnegative(), embedding: z.array(z.number()) })),
});

/** Validates an OpenAI-shaped response and returns its vectors sorted by `index` (order on the wire is not promised). */
export function orderedEmbeddings(provider: string, json: unknown, count: number, dimensions: number): number[][] {
  const parsed = embeddingsResponseSchema.safeParse(json);
  if (!parsed.success) {
    throw new EmbeddingError(`${provider}: unexpected response: ${parsed.error.message}`, provider, 200, false);
  }
  const out = new Array<number[] | undefined>(count);
  for (const item of parsed.data.data) {
    if (item.index >= count || out[item.index]) {
      throw new EmbeddingError(`${provider}: response has a bad or repeated index ${item.index}`, provider, 200, false);
    }
    if (item.embedding.length !== dimensions) {
      throw new EmbeddingError(
        `${provider}: got ${item.embedding.length}-dimensional vectors, configured for ${dimensions}`,
        provider,
        200,
        false,
      );
    }
    out[item.index] = item.embedding;
  }
  const missing = out.findIndex((v) => v === undefined);
  if (missing >= 0 || out.length !== count) {
    throw new EmbeddingError(`${provider}: response lacks the vector of input ${missing}`, provider, 200, false);
  }
  return out as number[][];
}
