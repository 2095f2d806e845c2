/**
 * A synthetic conversation, the same every run (seeded): user messages and assistant replies of realistic lengths,
 * and an agent-sized system prompt. Cost and overhead do not depend on what the words mean, only on how many there
 * are and that they never repeat a prefix by accident.
 */

/** mulberry32: a small, fast, seedable PRNG. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'the of and to a in is it you that he was for on are with as I his they be at one have this from or had by ' +
  'word but what some we can out other were all there when up use your how said an each she which do their time ' +
  'if will way about many then them write would like so these her long make thing see him two has look more day ' +
  'could go come did number sound no most people my over know water than call first who may down side been now ' +
  'find any new work part take get place made live where after back little only round man year came show every ' +
  'good me give our under name very through just form sentence great think say help low line differ turn cause ' +
  'much mean before move right boy old too same tell does set three want air well also play small end put home ' +
  'read hand port large spell add even land here must big high such follow act why ask men change went light ' +
  'kind off need house picture try us again animal point mother world near build self earth father head stand ' +
  'own page should country found answer school grow study still learn plant cover food sun four between state ' +
  'keep eye never last let thought city tree cross farm hard start might story saw far sea draw left late run ' +
  'invoice shipment refund account order deadline budget meeting project schedule contract customer estimate'
).split(' ');

function words(next: () => number, count: number): string {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(WORDS[Math.floor(next() * WORDS.length)]!);
  const text = out.join(' ');
  return `${text[0]!.toUpperCase()}${text.slice(1)}.`;
}

export interface DialogueTurn {
  user: string;
  reply: string;
}

export interface DialogueOptions {
  turns: number;
  seed?: number;
  /** Words per user message (uniform in the range). */
  userWords?: [number, number];
  /** Words per assistant reply. */
  replyWords?: [number, number];
}

export function dialogue(opts: DialogueOptions): DialogueTurn[] {
  const next = rng(opts.seed ?? 42);
  const [u0, u1] = opts.userWords ?? [15, 70];
  const [r0, r1] = opts.replyWords ?? [60, 200];
  const between = (a: number, b: number) => a + Math.floor(next() * (b - a + 1));
  return Array.from({ length: opts.turns }, () => ({
    user: words(next, between(u0, u1)),
    reply: words(next, between(r0, r1)),
  }));
}

/** An agent's system prompt of about `tokens` tokens (a token per 4 characters, as the offline model counts). */
export function systemPrompt(tokens: number, seed = 7): string {
  const next = rng(seed);
  const head = 'You are a helpful assistant for a small business. Follow these operating notes.\n';
  let text = head;
  let n = 1;
  while (text.length < tokens * 4) text += `${n++}. ${words(next, 12 + Math.floor(next() * 20))}\n`;
  return text.slice(0, tokens * 4);
}
