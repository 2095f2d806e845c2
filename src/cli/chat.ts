/**
 * A conversation in the terminal over HTTP API v1: interactive when stdin is a terminal (replies stream as the
 * model writes them), scripted otherwise. Each turn prints the reply, its tokens and cost. `/state`, `/cost`,
 * `/history` and `/quit` are commands.
 */
import readline from 'node:readline/promises';
import type { TurnResult } from '../../workflows/contract';
import type { ApiClient, ApprovalRequest } from './api-client';

export interface ChatOptions {
  api: ApiClient;
  conversationId: string;
  out?: NodeJS.WritableStream;
}

const usd = (n: number) => `$${n.toFixed(6)}`;

export function formatTurn(result: TurnResult): string {
  const u = result.usage;
  const flag = result.reply.degraded ? ' · DEGRADED (no model answered)' : '';
  return (
    `memoir ▸ ${result.reply.content}\n` +
    `         ${result.reply.model} · tokens in ${u.inputTokens} / out ${u.outputTokens}` +
    ` / cache read ${u.cacheReadTokens} / cache write ${u.cacheWriteTokens} · cost ${usd(u.costUsd)}${flag}\n`
  );
}

/** Sends each line as a turn and prints the result; returns the number of turns answered. */
export async function runScript(opts: ChatOptions, lines: string[]): Promise<number> {
  const out = opts.out ?? process.stdout;
  let answered = 0;
  for (const line of lines) {
    out.write(`\nyou    ▸ ${line}\n`);
    out.write(formatTurn(await opts.api.send(opts.conversationId, line)));
    answered++;
  }
  return answered;
}

export async function runInteractive(opts: ChatOptions): Promise<void> {
  const out = opts.out ?? process.stdout;
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  const approvals = approvalPrompt(opts, (question, signal) => rl.question(question, { signal }));
  out.write('Type a message, or /state, /cost, /history, /quit.\n');
  try {
    for (;;) {
      const line = (await rl.question('\nyou    ▸ ')).trim();
      if (!line) continue;
      if (line === '/quit' || line === '/exit') return;
      try {
        if (line === '/state') out.write(`${JSON.stringify(await opts.api.state(opts.conversationId), null, 2)}\n`);
        else if (line === '/cost') {
          const t = (await opts.api.state(opts.conversationId)).totals;
          out.write(
            `cost $${t.costUsd.toFixed(6)} · ${t.inputTokens} in / ${t.outputTokens} out · cache hit ratio ${(t.cacheHitRatio * 100).toFixed(1)}%\n`,
          );
        } else if (line === '/history') {
          const { messages } = await opts.api.messages(opts.conversationId);
          for (const m of messages) out.write(`#${m.seq} ${m.role.padEnd(9)} ${m.content}\n`);
        } else {
          out.write('memoir ▸ ');
          const result = await opts.api.sendStreaming(opts.conversationId, line, {
            onDelta: (text) => out.write(text),
            onRestart: () => out.write('\n         (the model was retried; the reply starts again)\nmemoir ▸ '),
            onApprovalRequired: approvals,
          });
          out.write(`\n${formatTurn(result).split('\n').slice(1).join('\n')}`);
        }
      } catch (err) {
        out.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
      }
    }
  } finally {
    rl.close();
  }
}

/** Asks one question; rejects when `signal` aborts (the turn ended without the answer). */
export type Ask = (question: string, signal: AbortSignal) => Promise<string>;

/**
 * Asks a person about each tool call a turn pauses on (one at a time, when the model made several) and sends the
 * decision: y approves, anything else denies; the reason is recorded with the call. A question the turn no longer
 * waits for (the call timed out) is dropped.
 */
export function approvalPrompt(opts: ChatOptions, ask: Ask) {
  const out = opts.out ?? process.stdout;
  let queue: Promise<void> = Promise.resolve();
  const decide = async (request: ApprovalRequest, turnOver: AbortSignal) => {
    if (turnOver.aborted) return;
    const input = request.input === undefined ? '' : ` with ${JSON.stringify(request.input)}`;
    out.write(`\n         tool ${request.tool} asks to run${input} (${request.toolUseId})\n`);
    const answer = (await ask('         approve? [y/n] ', turnOver)).trim().toLowerCase();
    const reason = (await ask('         reason (enter for none): ', turnOver)).trim();
    const decision = reason ? { reason } : {};
    const approved = answer === 'y' || answer === 'yes';
    try {
      if (approved) await opts.api.approveToolCall(opts.conversationId, request.toolUseId, decision);
      else await opts.api.denyToolCall(opts.conversationId, request.toolUseId, decision);
      out.write(`         ${approved ? 'approved' : 'denied'}\nmemoir ▸ `);
    } catch (err) {
      out.write(`         could not send the decision: ${err instanceof Error ? err.message : String(err)}\nmemoir ▸ `);
    }
  };
  return (request: ApprovalRequest, turnOver: AbortSignal): Promise<void> => {
    queue = queue.then(() => decide(request, turnOver)).catch(() => undefined);
    return queue;
  };
}
