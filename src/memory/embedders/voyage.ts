/**
 * Voyage AI embeddings (`POST https://api.voyageai.com/v1/embeddings`). Voyage models are asymmetric: queries and
 * documents are embedded with `input_type` `query` and `document`, which makes retrieval measurably better.
 */
import type { EmbedKind, Embedder } from '../types';
import {
  embedInRequests,
  orderedEmbeddings,
  postJson,
  requestLimits,
  type HttpEmbedderOptions,
  type RequestLimits,
} from './openai-compatible';

export interface VoyageEmbedderOptions extends HttpEmbedderOptions {
  apiKey: string;
  /** Default `voyage-3.5`. */
  model?: string;
  /**
   * Vector dimension. Unset: the model's default, assumed 1024 (voyage-3.5, voyage-3-large, voyage-code-3, the
   * voyage-4 family) and not sent. Set: sent as `output_dimension` (256, 512, 1024 or 2048 on models that allow it).
   */
  dimensions?: number;
  /** Default `https://api.voyageai.com/v1`. */
  baseUrl?: string;
}

/** The API accepts up to 1,000 texts and 120K–1M tokens per request depending on the model; stay well inside. */
const DEFAULT_LIMITS = { maxInputs: 128, maxTokens: 100_000 };

/** Embeds with Voyage AI. */
export class VoyageEmbedder implements Embedder {
  readonly id: string;
  readonly dimensions: number;
  private readonly model: string;
  private readonly url: string;
  private readonly limits: RequestLimits;

  constructor(private readonly opts: VoyageEmbedderOptions) {
    if (!opts.apiKey) throw new Error('voyage: an API key is required');
    this.model = opts.model ?? 'voyage-3.5';
    this.dimensions = opts.dimensions ?? 1024;
    this.id = `voyage:${this.model}:${this.dimensions}`;
    this.url = `${(opts.baseUrl ?? 'https://api.voyageai.com/v1').replace(/\/+$/, '')}/embeddings`;
    this.limits = requestLimits(opts, DEFAULT_LIMITS);
  }

  async embed(texts: string[], kind: EmbedKind): Promise<number[][]> {
    return embedInRequests('voyage', texts, this.limits, async (batch) => {
      const body = {
        model: this.model,
        input: batch,
        input_type: kind,
        // Chunks are cut well under every model's context, so truncation only ever trims an outlier.
        truncation: true,
        ...(this.opts.dimensions !== undefined ? { output_dimension: this.opts.dimensions } : {}),
      };
      const json = await postJson('voyage', this.url, this.opts.apiKey, body, this.limits);
      return orderedEmbeddings('voyage', json, batch.length, this.dimensions);
    });
  }
}
