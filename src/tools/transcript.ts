/**
 * A turn's tool exchange rebuilt from PostgreSQL for the next model step: each stored step as the assistant's
 * message, then one user message with a tool_result per tool_use of that step, in the model's order.
 */
import type Anthropic from '@anthropic-ai/sdk';
import { boundResult, MODEL_RESULT_MAX_CHARS, type StoredStep, type ToolCallRow } from '../storage/tool-calls';

/** What the model is told for a call that left no result (its activity failed for good). */
export const NO_RESULT = 'The tool call failed: no result was recorded.';

export function toolStepMessages(steps: StoredStep[], calls: ToolCallRow[]): Anthropic.MessageParam[] {
  const byId = new Map(calls.map((c) => [c.toolUseId, c]));
  return steps.flatMap((step): Anthropic.MessageParam[] => {
    // The API refuses empty text blocks; a step may be nothing but tool_use.
    const content = step.content.filter((b) => b.type !== 'text' || b.text !== '') as Anthropic.ContentBlockParam[];
    const results = step.content.flatMap((b): Anthropic.ToolResultBlockParam[] => {
      if (b.type !== 'tool_use') return [];
      const call = byId.get(b.id);
      const done = call !== undefined && call.outcome !== null && call.result !== null;
      return [
        {
          type: 'tool_result',
          tool_use_id: b.id,
          content: done ? boundResult(call.result!, MODEL_RESULT_MAX_CHARS) : NO_RESULT,
          ...(done && !call.isError ? {} : { is_error: true }),
        },
      ];
    });
    return [
      { role: 'assistant', content },
      { role: 'user', content: results },
    ];
  });
}
