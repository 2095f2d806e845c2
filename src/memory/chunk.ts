/**
 * Splits long texts into overlapping chunks for indexing. One vector per long message would blur everything it
 * says into one point; chunks of a few hundred tokens keep each passage findable, and the overlap keeps a sentence
 * cut at a boundary findable from either side.
 *
 * Sizes are in approximate tokens (characters / 4): exact counts would need the embedding model's tokenizer, and
 * the budget only has to stay comfortably under the model's context.
 */
import { memoryRecordId, type MemoryRecord } from './types';

export interface ChunkOptions {
  /** Largest chunk, in approximate tokens. Default 256. */
  maxTokens?: number;
  /** How much of the end of a chunk the next one repeats, in approximate tokens. Default 32. */
  overlapTokens?: number;
}

export interface TextChunk {
  index: number;
  text: string;
  /** Offsets of the chunk in the original text. */
  start: number;
  end: number;
}

const CHARS_PER_TOKEN = 4;

/**
 * Chunks `text` on word boundaries, preferring to end a chunk at the end of a sentence (or line) and to start the
 * overlap at the start of one. A text within the budget is one chunk; a blank text none.
 */
export function chunkText(text: string, opts: ChunkOptions = {}): TextChunk[] {
  const maxChars = (opts.maxTokens ?? 256) * CHARS_PER_TOKEN;
  const overlapChars = Math.min((opts.overlapTokens ?? 32) * CHARS_PER_TOKEN, maxChars / 2);
  const words = new Words(text, maxChars);
  const chunks: TextChunk[] = [];
  for (let s = 0; s < words.count;) {
    const e = words.chunkEnd(s, maxChars);
    const start = words.start(s);
    const end = words.end(e - 1);
    chunks.push({ index: chunks.length, text: text.slice(start, end), start, end });
    if (e >= words.count) break;
    s = words.overlapStart(s, e, overlapChars, maxChars);
  }
  return chunks;
}

/** The words of a text by offsets: whitespace-separated, any word longer than a chunk (a URL, a blob) cut up. */
class Words {
  private readonly offsets: [number, number][] = [];

  constructor(
    private readonly text: string,
    maxChars: number,
  ) {
    for (const m of text.matchAll(/\S+/g)) {
      const wordEnd = m.index + m[0].length;
      for (let at = m.index; at < wordEnd;) {
        let to = Math.min(at + maxChars, wordEnd);
        // Never cut a surrogate pair (an emoji) in two.
        if (to < wordEnd && /[\uDC00-\uDFFF]/.test(text[to]!)) to--;
        this.offsets.push([at, to]);
        at = to;
      }
    }
  }

  get count(): number {
    return this.offsets.length;
  }

  start(i: number): number {
    return this.offsets[i]![0];
  }

  end(i: number): number {
    return this.offsets[i]![1];
  }

  /** Characters from the start of word `from` to the end of word `to - 1`. */
  span(from: number, to: number): number {
    return this.end(to - 1) - this.start(from);
  }

  /** Whether word `k - 1` ends a sentence or a line: a good place to cut. */
  boundaryBefore(k: number): boolean {
    return (
      /[.!?…:;]["'”’)\]]*$/.test(this.text.slice(this.start(k - 1), this.end(k - 1))) ||
      this.text.slice(this.end(k - 1), this.start(k)).includes('\n')
    );
  }

  /** Where a chunk from word `s` ends (exclusive): as far as fits, pulled back to a sentence end in its second half. */
  chunkEnd(s: number, maxChars: number): number {
    let e = s + 1;
    while (e < this.count && this.span(s, e + 1) <= maxChars) e++;
    if (e === this.count) return e;
    for (let k = e; k > s && this.span(s, k) >= maxChars / 2; k--) if (this.boundaryBefore(k)) return k;
    return e;
  }

  /**
   * The first word of the chunk after [s, e): as far back as the overlap allows, moved forward to a sentence start
   * within the overlap if there is one. Always after `s`, and never so far back that the next new word would not
   * fit (a chunk of nothing but overlap), so chunking makes progress.
   */
  overlapStart(s: number, e: number, overlapChars: number, maxChars: number): number {
    let k = e;
    while (k - 1 > s && this.span(k - 1, e) <= overlapChars) k--;
    let start = k;
    while (start < e && !this.boundaryBefore(start)) start++;
    if (start === e) start = k;
    return this.span(start, e + 1) <= maxChars ? start : e;
  }
}

/** A stored message, as the indexer needs it. */
export interface MessageToIndex {
  tenantId: string;
  conversationId: string;
  userId: string;
  messageId: string;
  seq: number;
  content: string;
  createdAt: Date;
}

/** The records of a message, one per chunk, without vectors: embed their texts as `document`, then upsert. */
export function messageChunks(m: MessageToIndex, opts: ChunkOptions = {}): Omit<MemoryRecord, 'vector'>[] {
  return chunkText(m.content, opts).map((c) => {
    const base = { conversationId: m.conversationId, kind: 'message' as const, sourceId: m.messageId, chunk: c.index };
    return {
      ...base,
      id: memoryRecordId(base),
      tenantId: m.tenantId,
      userId: m.userId,
      seq: m.seq,
      text: c.text,
      createdAt: m.createdAt,
    };
  });
}
