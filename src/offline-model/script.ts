/**
 * Scripted behaviour of the offline model, set through its control endpoint: errors with `retry-after`, slow and
 * truncated responses, fixed replies, and random fault storms. Tests and benchmarks drive every failure path of the
 * real SDK with it.
 */
import { z } from 'zod';

const errorAction = z.object({
  kind: z.literal('error'),
  status: z.number().int().min(400).max(599),
  /** `retry-after` header, in seconds. */
  retryAfterSeconds: z.number().nonnegative().optional(),
  /** `retry-after-ms` header. */
  retryAfterMs: z.number().nonnegative().optional(),
  message: z.string().optional(),
});
const action = z.discriminatedUnion('kind', [
  errorAction,
  z.object({ kind: z.literal('reply'), text: z.string() }),
  /** Stops for tool_use with these calls (ids are made up), after an optional text block. */
  z.object({
    kind: z.literal('tool_use'),
    text: z.string().optional(),
    calls: z.array(z.object({ name: z.string().min(1), input: z.record(z.string(), z.unknown()).default({}) })).min(1),
  }),
  z.object({ kind: z.literal('delay'), ms: z.number().int().nonnegative() }),
  /** Waits until `POST /_offline/release` names this gate (or a reset): a test decides when the call ends. */
  z.object({ kind: z.literal('hold'), gate: z.string().min(1) }),
  /** Sends headers and half a body, then drops the connection. */
  z.object({ kind: z.literal('truncate') }),
  /** Answers 200 with a body that is not a Messages API response. */
  z.object({ kind: z.literal('invalid') }),
]);

export const ruleSchema = z.object({
  action,
  /** Only requests for this model. */
  model: z.string().optional(),
  /** Only requests whose last user message contains this text (tool results count as its text). */
  lastUserContains: z.string().optional(),
  /** Only requests whose last user message is (true) or is not (false) tool results. */
  afterToolResults: z.boolean().optional(),
  /** How many requests it applies to; absent: every matching request until reset. */
  times: z.number().int().positive().optional(),
  /** Applies to this share of matching requests, at random. */
  probability: z.number().min(0).max(1).optional(),
});
export type Rule = z.infer<typeof ruleSchema>;
export type Action = Rule['action'];

export const scriptSchema = z.object({
  rules: z.array(ruleSchema).default([]),
  /** Added before every response (simulated model time). */
  latencyMs: z.number().int().nonnegative().optional(),
  /** Delay between streamed text deltas. */
  streamChunkDelayMs: z.number().int().nonnegative().optional(),
});

export interface RequestFacts {
  model: string;
  lastUserText: string;
  lastIsToolResults?: boolean;
}

/** Actions that only make a request wait: the rules after them still apply. */
export const isWait = (a: Action): a is Extract<Action, { kind: 'delay' | 'hold' }> =>
  a.kind === 'delay' || a.kind === 'hold';

/** Rules in order; the first that matches a request decides what it gets (a delay or hold lets the next rule apply). */
export class Script {
  private rules: (Rule & { used: number })[] = [];
  latencyMs = 0;
  streamChunkDelayMs = 0;

  constructor(private readonly random: () => number = Math.random) {}

  add(rules: Rule[]): void {
    this.rules.push(...rules.map((r) => ({ ...r, used: 0 })));
  }

  reset(): void {
    this.rules = [];
    this.latencyMs = 0;
    this.streamChunkDelayMs = 0;
  }

  /** The actions for one request: any waits, then at most one decisive action. */
  next(req: RequestFacts): Action[] {
    const actions: Action[] = [];
    for (const rule of this.rules) {
      if (rule.times !== undefined && rule.used >= rule.times) continue;
      if (rule.model !== undefined && rule.model !== req.model) continue;
      if (rule.lastUserContains !== undefined && !req.lastUserText.includes(rule.lastUserContains)) continue;
      if (rule.afterToolResults !== undefined && rule.afterToolResults !== (req.lastIsToolResults ?? false)) continue;
      if (rule.probability !== undefined && this.random() >= rule.probability) continue;
      rule.used++;
      actions.push(rule.action);
      if (!isWait(rule.action)) break;
    }
    this.rules = this.rules.filter((r) => r.times === undefined || r.used < r.times);
    return actions;
  }
}
