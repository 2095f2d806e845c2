/**
 * How the Temporal UI describes a conversation: the current details line (the last turn at a glance) and the
 * persist summary of each turn. Pure text from the turn's outcome.
 */
import type { TurnOutcome } from './turn';

/** 1234 → "1.2k". */
export const kilo = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(1)}k` : String(n));

export function lastTurnDetails(turn: number, outcome: TurnOutcome): string {
  if (!outcome.ok) return `**Turn ${turn} failed** · ${outcome.error.type}: ${outcome.error.message}`;
  const { reply, usage } = outcome.result;
  if (reply.degraded) return `**Last turn ${turn}** · degraded (no model answered)${fallbackNote(outcome)}`;
  return (
    `**Last turn ${turn}** · ${reply.model} · attempt ${outcome.attempt} · ${kilo(usage.inputTokens)} in / ${kilo(usage.outputTokens)} out` +
    ` · cache read ${kilo(usage.cacheReadTokens)} · $${usage.costUsd.toFixed(4)}${fallbackNote(outcome)}`
  );
}

function fallbackNote(outcome: Extract<TurnOutcome, { ok: true }>): string {
  const last = outcome.steps.at(-1);
  return last ? ` · after ${last.model} ${last.failure}` : '';
}

export function persistSummary(
  turn: number,
  reply: { model: string; degraded: boolean },
  usage: { inputTokens: number; outputTokens: number; costUsd: number },
): string {
  return reply.degraded
    ? `persist · turn ${turn} · degraded`
    : `persist · turn ${turn} · ${reply.model} · ${kilo(usage.inputTokens)} in / ${kilo(usage.outputTokens)} out · $${usage.costUsd.toFixed(4)}`;
}
