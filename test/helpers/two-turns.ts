/**
 * The check the turn tests share after a fault: two turns, each message and reply stored once and in order, and the
 * ledger's accepted calls add up to the workflow's totals (a paid call counted once, none left out).
 */
import { expect } from 'vitest';
import type { TurnResult } from '../../workflows/contract';
import type { Stack } from './stack';

type Services = Stack['serving']['services'];

export async function expectTwoTurnsStoredOnce(
  { memoir, llmCalls }: Pick<Services, 'memoir' | 'llmCalls'>,
  tenantId: string,
  conversationId: string,
  first: TurnResult,
  second: TurnResult,
) {
  const stored = await memoir.messages(tenantId, conversationId, { limit: 10 });
  expect(stored.map((m) => [m.role, m.messageId])).toEqual([
    ['user', first.messageId],
    ['assistant', first.reply.messageId],
    ['user', second.messageId],
    ['assistant', second.reply.messageId],
  ]);
  const state = await memoir.getState(tenantId, conversationId);
  expect(state.turnCount).toBe(2);
  const accepted = await llmCalls.acceptedTotals(tenantId, conversationId);
  expect(accepted.calls).toBe(2);
  expect(accepted.costUsd).toBeCloseTo(state.totals.costUsd, 9);
  expect(accepted.inputTokens).toBe(state.totals.inputTokens);
  return { stored, state };
}
