/**
 * `memoir rerun` for a turn of a conversation with tools: the model may ask for tools again, and each call is
 * answered from the turn's record (tool_calls) instead of running the tool — the same tool with the same input gets
 * the recorded result; a call the record does not hold gets an is_error result saying so. Nothing runs, nothing is
 * written.
 */
import type Anthropic from '@anthropic-ai/sdk';
import type { ModelCallResult, ModelClient } from '../model/client';
import { boundResult, hashInput, MODEL_RESULT_MAX_CHARS, type ToolCallRow } from '../storage/tool-calls';

export const NOT_RECORDED = 'Not run: rerun replays tool results from the record, and this call was not recorded.';

export interface ToolReplay {
  /** The final step's result, with tokens and cost summed over every step. */
  result: ModelCallResult;
  steps: number;
  replayed: number;
  notRecorded: number;
}

/**
 * Calls the model step by step, appending each tool_use and its recorded result, until it ends its turn or
 * `maxSteps` steps were taken.
 */
export async function rerunWithRecordedTools(
  model: ModelClient,
  first: Anthropic.MessageCreateParamsNonStreaming,
  recorded: ToolCallRow[],
  maxSteps: number,
  timeoutMs: number,
): Promise<ToolReplay> {
  const unused = [...recorded];
  const messages = [...first.messages];
  let replayed = 0;
  let notRecorded = 0;
  let total: ModelCallResult | undefined;
  for (let step = 1; ; step++) {
    const result = await model.call({ ...first, messages }, { timeoutMs });
    total = total ? summed(total, result) : result;
    const uses = result.content.filter((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
    if (result.stopReason !== 'tool_use' || uses.length === 0 || step >= maxSteps) {
      return { result: { ...total, text: result.text, model: result.model }, steps: step, replayed, notRecorded };
    }
    const results = uses.map((use): Anthropic.ToolResultBlockParam => {
      const hash = hashInput(use.input);
      const i = unused.findIndex((c) => c.tool === use.name && c.inputHash === hash && c.result !== null);
      if (i < 0) {
        notRecorded++;
        return { type: 'tool_result', tool_use_id: use.id, content: NOT_RECORDED, is_error: true };
      }
      const [call] = unused.splice(i, 1);
      replayed++;
      return {
        type: 'tool_result',
        tool_use_id: use.id,
        content: boundResult(call!.result!, MODEL_RESULT_MAX_CHARS),
        ...(call!.isError ? { is_error: true } : {}),
      };
    });
    messages.push(
      { role: 'assistant', content: result.content.filter((b) => b.type !== 'text' || b.text !== '') },
      { role: 'user', content: results },
    );
  }
}

function summed(a: ModelCallResult, b: ModelCallResult): ModelCallResult {
  return {
    ...b,
    tokens: {
      inputTokens: a.tokens.inputTokens + b.tokens.inputTokens,
      outputTokens: a.tokens.outputTokens + b.tokens.outputTokens,
      cacheReadTokens: a.tokens.cacheReadTokens + b.tokens.cacheReadTokens,
      cacheWrite5mTokens: a.tokens.cacheWrite5mTokens + b.tokens.cacheWrite5mTokens,
      cacheWrite1hTokens: a.tokens.cacheWrite1hTokens + b.tokens.cacheWrite1hTokens,
    },
    costUsd: a.costUsd + b.costUsd,
    latencyMs: a.latencyMs + b.latencyMs,
  };
}
