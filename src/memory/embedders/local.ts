/**
 * The built-in embedder: no model, no download, no network. It is lexical feature hashing, not a neural model.
 *
 * Each text becomes a bag of features — lightly stemmed word unigrams, bigrams of adjacent content words, and
 * character 3-grams of each content word — hashed with a random sign into a fixed number of buckets (the
 * "hashing trick"), then L2-normalised. Cosine similarity between two vectors therefore measures shared surface
 * forms: the same words, the same word stems, overlapping spellings.
 *
 * What that buys: recall of a past message that reuses the query's words ("my flight to Lisbon" finds "booked the
 * Lisbon flight"), tolerance of plurals, tenses and small typos, and identical vectors on every machine and every
 * run. What it cannot do: it knows no synonyms or paraphrases ("car" and "automobile" share nothing), no
 * languages beyond what surface forms share, no word order beyond bigrams, and hash collisions add a little noise
 * at small dimensions. It is a working default for offline use and tests; configure Voyage or an
 * OpenAI-compatible model (Ollama, TEI) for real semantic recall.
 */
import type { EmbedKind, Embedder } from '../types';

export interface LocalEmbedderOptions {
  /** Number of hash buckets. Default 512. */
  dimensions?: number;
}

// Frequent function words: kept (a query of only stopwords should still match something) but down-weighted.
const STOPWORDS = new Set(
  (
    'a about above after again against all am an and any are as at be because been before being below between both ' +
    'but by can could did do does doing down during each few for from further had has have having he her here hers ' +
    'herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on ' +
    'once only or other our ours ourselves out over own same she should so some such than that the their theirs them ' +
    'themselves then there these they this those through to too under until up very was we were what when where ' +
    'which while who whom why will with would you your yours yourself yourselves im ive id youre dont doesnt didnt ' +
    'cant wont isnt arent wasnt let lets also get got may might must shall us'
  ).split(' '),
);

const STOPWORD_WEIGHT = 0.15;
const BIGRAM_WEIGHT = 0.5;
// Total weight of one word's character 3-grams (spread as 1/sqrt(n) each, so long words do not dominate).
const TRIGRAM_WEIGHT = 0.8;

/** Deterministic lexical embedder; see the module comment for what it can and cannot do. */
export class LocalEmbedder implements Embedder {
  readonly id: string;
  readonly dimensions: number;

  constructor(opts: LocalEmbedderOptions = {}) {
    this.dimensions = opts.dimensions ?? 512;
    if (!Number.isInteger(this.dimensions) || this.dimensions < 8) {
      throw new Error(`local embedder: dimensions must be an integer >= 8, got ${this.dimensions}`);
    }
    this.id = `local-hash-v1-${this.dimensions}`;
  }

  /** Queries and documents are embedded alike: the features are symmetric. */
  async embed(texts: string[], _kind: EmbedKind): Promise<number[][]> {
    return texts.map((t) => this.embedOne(t));
  }

  embedOne(text: string): number[] {
    const vector = new Float64Array(this.dimensions);
    const add = (feature: string, weight: number) => {
      const h = hash32(feature);
      // Low bits pick the bucket, the top bit the sign: colliding features cancel out on average.
      vector[h % this.dimensions]! += h >>> 31 ? -weight : weight;
    };
    const words = tokenize(text);
    const content: string[] = [];
    for (const word of words) {
      const stop = STOPWORDS.has(word);
      const stemmed = stem(word);
      add(`w:${stemmed}`, stop ? STOPWORD_WEIGHT : 1);
      if (stop) continue;
      content.push(stemmed);
      const grams = trigrams(word);
      for (const g of grams) add(`c:${g}`, TRIGRAM_WEIGHT / Math.sqrt(grams.length));
    }
    for (let i = 1; i < content.length; i++) add(`b:${content[i - 1]} ${content[i]}`, BIGRAM_WEIGHT);
    // A text without a single word still gets a unit vector, so cosine distances stay defined.
    if (words.length === 0) add('empty', 1);
    return normalize(vector);
  }
}

/** Lower-cased, diacritics stripped, apostrophes dropped ("don't" → "dont"), split on anything not a letter or digit. */
export function tokenize(text: string): string[] {
  return (
    text
      .normalize('NFKD')
      .replace(/\p{M}/gu, '')
      .toLowerCase()
      .replace(/['’]/g, '')
      .match(/[\p{L}\p{N}]+/gu) ?? []
  );
}

/** A light suffix stemmer: plurals, -ing, -ed, -ly and a final -e, so "baking", "baked" and "bakes" meet. */
export function stem(word: string): string {
  if (word.length <= 3 || /\d/.test(word)) return word;
  let w = word;
  if (w.endsWith('ies') && w.length > 4) w = `${w.slice(0, -3)}y`;
  else if (w.endsWith('sses') || /(?:ch|sh|x|z)es$/.test(w)) w = w.slice(0, -2);
  else if (w.endsWith('s') && !/(?:ss|us|is)$/.test(w)) w = w.slice(0, -1);
  if (w.endsWith('ing') && w.length - 3 >= 3) w = undouble(w.slice(0, -3));
  else if (w.endsWith('ed') && w.length - 2 >= 3) w = undouble(w.slice(0, -2));
  if (w.endsWith('ly') && w.length - 2 >= 4) w = w.slice(0, -2);
  if (w.endsWith('e') && w.length > 3) w = w.slice(0, -1);
  return w;
}

// "running" → "runn" → "run"; but "falling" → "fall".
function undouble(w: string): string {
  const last = w.at(-1);
  return last && last === w.at(-2) && !'aeioulsz'.includes(last) ? w.slice(0, -1) : w;
}

function trigrams(word: string): string[] {
  const padded = `#${word}#`;
  const grams: string[] = [];
  for (let i = 0; i + 3 <= padded.length; i++) grams.push(padded.slice(i, i + 3));
  return grams;
}

/** FNV-1a over UTF-16 code units, finished with murmur3's avalanche so nearby strings land far apart. */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function normalize(v: Float64Array): number[] {
  let sum = 0;
  for (const x of v) sum += x * x;
  const norm = Math.sqrt(sum);
  return Array.from(v, (x) => (norm > 0 ? x / norm : 0));
}
