/**
 * `memoir rerun`: "what would another model (or another system prompt) have said here?" Rebuilds one turn's model
 * request from its context manifest — the exact history and user message that turn was given — calls the model once
 * with the overrides, and prints the recorded and the new reply side by side with tokens and cost. It writes
 * nothing: no message, no manifest, no llm_calls row; the conversation and its workflow never see it.
 */
import fs from 'node:fs';
import type Anthropic from '@anthropic-ai/sdk';
import { z } from 'zod';
import type { ModelCallResult, ModelClient } from '../model/client';
import { classifyModelError } from '../model/errors';
import { requestFromManifest, type RequestSettings, type RequestStores } from '../model/turn-request';
import type { LlmCallStore } from '../storage/llm-calls';
import type { ContextManifest } from '../storage/manifests';
import type { ToolCallRow } from '../storage/tool-calls';
import { rerunWithRecordedTools, type ToolReplay } from './rerun-tools';
import { ID_PATTERN, type TurnResult } from '../../workflows/contract';
import { CliError } from './errors';
import { indent, table, tokens, usd } from './format';

export const rerunOptions = z.object({
  tenant: z.string().regex(ID_PATTERN, 'tenant ids match [A-Za-z0-9._-]{1,128}'),
  model: z.string().min(1).optional(),
  systemFile: z.string().min(1).optional(),
  json: z.boolean().default(false),
});
export type RerunOptions = z.infer<typeof rerunOptions>;

/** The stores the request is rebuilt from, read only. */
export interface RerunDeps extends RequestStores {
  llmCalls: Pick<LlmCallStore, 'forMessage'>;
  model: ModelClient;
  settings: RequestSettings;
  /** The primary model, for a turn that has no recorded model (a degraded reply). */
  defaultModel: string;
  timeoutMs: number;
  /** For conversations with tools: their definitions and the record their results are replayed from. */
  tools?: {
    definitions: (names: string[]) => Anthropic.Tool[];
    recorded: (tenantId: string, conversationId: string, messageId: string) => Promise<ToolCallRow[]>;
    maxSteps: number;
  };
}

interface Side {
  model: string;
  content: string;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costUsd: number;
  latencyMs: number | undefined;
}

export async function rerun(
  deps: RerunDeps,
  conversationId: string,
  messageId: string,
  opts: RerunOptions,
): Promise<string> {
  const { tenant } = opts;
  const { manifest, userMessageId } = await manifestFor(deps, tenant, conversationId, messageId);
  const recorded = await deps.conversations.findTurn(tenant, conversationId, userMessageId);
  const model = opts.model ?? (recorded && !recorded.reply.degraded ? recorded.reply.model : deps.defaultModel);
  const system = opts.systemFile ? readSystemFile(opts.systemFile) : undefined;
  const conversationTools = deps.tools ? ((await deps.conversations.get(tenant, conversationId))?.tools ?? []) : [];
  const request = await requestFromManifest(deps, tenant, conversationId, manifest, model, deps.settings, {
    ...(system !== undefined ? { system } : {}),
    ...(conversationTools.length > 0 ? { tools: deps.tools!.definitions(conversationTools) } : {}),
  });

  let result: ModelCallResult;
  let toolReplay: ToolReplay | undefined;
  try {
    if (deps.tools && conversationTools.length > 0) {
      const recordedCalls = await deps.tools.recorded(tenant, conversationId, userMessageId);
      toolReplay = await rerunWithRecordedTools(
        deps.model,
        request,
        recordedCalls,
        deps.tools.maxSteps,
        deps.timeoutMs,
      );
      result = toolReplay.result;
    } else result = await deps.model.call(request, { timeoutMs: deps.timeoutMs });
  } catch (err) {
    const failure = classifyModelError(err);
    throw new CliError(`the rerun call to ${model} failed (${failure.type}): ${failure.message}`);
  }
  const before = recorded ? await recordedSide(deps, tenant, conversationId, userMessageId, recorded) : undefined;
  const after = rerunSide(result);

  const about = {
    conversationId,
    tenantId: tenant,
    messageId: userMessageId,
    turn: manifest.turn,
    historyMessages: manifest.historySeqs.length,
    systemPrompt: opts.systemFile ? `replaced from ${opts.systemFile}` : 'as recorded',
    ...(toolReplay
      ? { tools: { steps: toolReplay.steps, replayed: toolReplay.replayed, notRecorded: toolReplay.notRecorded } }
      : {}),
  };
  if (opts.json) return JSON.stringify({ ...about, recorded: before ?? null, rerun: after }, null, 2);
  return [
    `Rerun of turn ${manifest.turn} (message ${userMessageId}) of conversation ${conversationId} · tenant ${tenant}`,
    `  context: ${about.historyMessages} earlier messages as recorded in its manifest · system prompt ${about.systemPrompt}`,
    ...(toolReplay
      ? [
          `  tools: ${toolReplay.steps} model steps · ${toolReplay.replayed} tool results replayed from the record` +
            (toolReplay.notRecorded > 0 ? ` · ${toolReplay.notRecorded} calls not recorded (answered as errors)` : ''),
        ]
      : []),
    '',
    comparison(before, after),
    '',
    '── recorded reply ──',
    indent(before?.content ?? '(none stored: the turn was never completed)'),
    '',
    `── rerun reply (${after.model}) ──`,
    indent(after.content),
    '',
    'Nothing was stored: the conversation, its messages and llm_calls are as they were.',
  ].join('\n');
}

/** The manifest of a user message; an assistant message's id leads to the user message it answered. */
async function manifestFor(
  deps: RerunDeps,
  tenant: string,
  conversationId: string,
  messageId: string,
): Promise<{ manifest: ContextManifest; userMessageId: string }> {
  const direct = await deps.manifests.get(tenant, conversationId, messageId);
  if (direct) return { manifest: direct, userMessageId: messageId };
  const answered = await findReplyTarget(deps, tenant, conversationId, messageId);
  const manifest = answered ? await deps.manifests.get(tenant, conversationId, answered) : null;
  if (!answered || !manifest) {
    throw new CliError(
      `no context manifest for message ${messageId} of conversation ${conversationId} (tenant ${tenant}): ` +
        'give the id of a user message or of its reply, as `memoir show` lists them.',
    );
  }
  return { manifest, userMessageId: answered };
}

/** The user message an assistant message replied to, searching the transcript page by page from the newest. */
async function findReplyTarget(
  deps: RerunDeps,
  tenant: string,
  conversationId: string,
  replyId: string,
): Promise<string | undefined> {
  let before: number | undefined;
  for (;;) {
    const page = await deps.conversations.page(tenant, conversationId, 500, before);
    const reply = page.find((m) => m.messageId === replyId && m.role === 'assistant');
    if (reply) return reply.inReplyTo ?? undefined;
    if (page.length < 500) return undefined;
    before = page[0]!.seq;
  }
}

function readSystemFile(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read --system-file ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function recordedSide(
  deps: RerunDeps,
  tenant: string,
  conversationId: string,
  messageId: string,
  turn: TurnResult,
): Promise<Side> {
  const calls = await deps.llmCalls.forMessage(tenant, conversationId, messageId);
  const accepted = calls.find((c) => c.accepted);
  return {
    model: turn.reply.degraded ? 'none (degraded reply)' : turn.reply.model,
    content: turn.reply.content,
    inputTokens: turn.usage.inputTokens,
    outputTokens: turn.usage.outputTokens,
    cacheReadTokens: turn.usage.cacheReadTokens,
    cacheWriteTokens: turn.usage.cacheWriteTokens,
    costUsd: turn.usage.costUsd,
    latencyMs: accepted?.latencyMs,
  };
}

function rerunSide(r: ModelCallResult): Side {
  return {
    model: r.model,
    content: r.text,
    inputTokens: r.tokens.inputTokens,
    outputTokens: r.tokens.outputTokens,
    cacheReadTokens: r.tokens.cacheReadTokens,
    cacheWriteTokens: r.tokens.cacheWrite5mTokens + r.tokens.cacheWrite1hTokens,
    costUsd: r.costUsd,
    latencyMs: r.latencyMs,
  };
}

function comparison(before: Side | undefined, after: Side): string {
  const col = (s: Side | undefined, f: (s: Side) => string) => (s ? f(s) : '—');
  const rows: [string, (s: Side) => string][] = [
    ['model', (s) => s.model],
    ['tokens in / out', (s) => `${tokens(s.inputTokens)} / ${tokens(s.outputTokens)}`],
    ['cache read / write', (s) => `${tokens(s.cacheReadTokens)} / ${tokens(s.cacheWriteTokens)}`],
    ['cost', (s) => usd(s.costUsd)],
    ['latency', (s) => (s.latencyMs !== undefined ? `${s.latencyMs} ms` : '—')],
  ];
  return table(
    ['', 'RECORDED', 'RERUN'],
    rows.map(([label, f]) => [label, col(before, f), col(after, f)]),
    { alignNumbers: false },
  );
}
