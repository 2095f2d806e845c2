/**
 * The agent most people write by hand: keep the whole transcript in memory and send all of it every turn, through
 * the real `@anthropic-ai/sdk`. Without caching (a), or with one `cache_control` breakpoint on the newest message
 * (b), which lets the API serve the previous turn's prefix from its prompt cache.
 */
import Anthropic from '@anthropic-ai/sdk';
import { tokenCounts } from '../../src/model/client';
import { costUsd, DEFAULT_PRICING, type TokenCounts } from '../../src/model/pricing';
import type { DialogueTurn } from './dialogue';
import { nextMessageId } from './load';
import { marked, type BenchModel } from './offline';

export interface TurnUsage {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  costUsd: number;
}

export const promptTokens = (u: TurnUsage) => u.input + u.cacheRead + u.cacheWrite;

export function fromCounts(model: string, t: TokenCounts): TurnUsage {
  return {
    input: t.inputTokens,
    output: t.outputTokens,
    cacheRead: t.cacheReadTokens,
    cacheWrite: t.cacheWrite5mTokens + t.cacheWrite1hTokens,
    costUsd: costUsd(DEFAULT_PRICING, model, t),
  };
}

export interface NaiveOptions {
  bench: BenchModel;
  model: string;
  system: string;
  turns: DialogueTurn[];
  cache: boolean;
  maxTokens: number;
  /** Send each message as it is, scripting its reply by its text (it must then be unique), instead of marking it. */
  unmarked?: boolean;
  /** Runs before turn `i` is sent (the realistic cost suite advances the cache clock between sessions). */
  beforeTurn?: (i: number) => Promise<void>;
}

export async function naiveConversation(opts: NaiveOptions): Promise<TurnUsage[]> {
  const client = new Anthropic({ apiKey: 'bench', baseURL: opts.bench.url, maxRetries: 0 });
  const history: Anthropic.MessageParam[] = [];
  const usage: TurnUsage[] = [];
  for (const [i, turn] of opts.turns.entries()) {
    await opts.beforeTurn?.(i);
    const id = nextMessageId('n');
    const text = opts.unmarked ? turn.user : marked(id, turn.user);
    const match = opts.unmarked ? turn.user : `[#${id}]`;
    await opts.bench.script([
      { action: { kind: 'reply', text: turn.reply }, times: 1, lastUserContains: match, model: opts.model },
    ]);
    history.push({ role: 'user', content: text });
    const messages: Anthropic.MessageParam[] = opts.cache
      ? [
          ...history.slice(0, -1),
          { role: 'user', content: [{ type: 'text', text, cache_control: { type: 'ephemeral' } }] },
        ]
      : history;
    const res = await client.messages.create({
      model: opts.model,
      max_tokens: opts.maxTokens,
      system: opts.system,
      messages,
    });
    const reply = res.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('');
    history.push({ role: 'assistant', content: reply });
    usage.push(fromCounts(opts.model, tokenCounts(res.usage)));
  }
  return usage;
}
