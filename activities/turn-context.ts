/**
 * A turn's context step: answer a repeated message from the store, refuse what must be refused (a reused messageId
 * with other content, a missing conversation, a spent budget), or assemble the context and save its manifest. Run by
 * loadContext (runs recorded before the model call loaded context) and by the model call itself (generateReply with
 * `assemble`), so both paths refuse and assemble the same way.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes, type TurnResult } from '../workflows/contract';
import { ModelFailure } from '../src/model/failure-types';
import type { ContextManifest, ManifestSources } from '../src/storage/manifests';
import type { ActivityDeps } from './deps';
import { activityLogger, secondsSince } from './log-context';

export interface TurnContextInput {
  tenantId: string;
  conversationId: string;
  messageId: string;
  content: string;
  turn: number;
}

/** What the workflow keeps of a turn's context (getState's `lastContext`): sizes and tiers, no text. */
export interface ContextRef {
  tierTokens: Record<string, number>;
  /** Absent when no tier was down (most turns: a few bytes of history less). */
  degradedTiers?: string[];
}

export type AssembledTurn =
  | { kind: 'answered'; result: TurnResult }
  | {
      kind: 'ready';
      /** As saved: `userContent` in its stored form (redacted by the store policy, not yet sealed). */
      manifest: ContextManifest;
      sources: ManifestSources;
      /** The model's copy of the message (redacted for the model stage). */
      modelContent: string;
      storedContent: string;
      /** Settles when the manifest is written (already settled unless `saveInBackground`). */
      saved: Promise<void>;
    };

export interface AssembleOptions {
  /** Keep the texts read in this process's manifest cache (loadContext: the model call runs later). */
  keepSources: boolean;
  /**
   * Return before the manifest's write has finished (`saved` settles when it has): the model call overlaps it with
   * the model's answer and awaits it before storing the turn, so the manifest still commits first.
   */
  saveInBackground?: boolean;
}

export async function assembleTurn(
  deps: ActivityDeps,
  input: TurnContextInput,
  { keepSources, saveInBackground = false }: AssembleOptions,
): Promise<AssembledTurn> {
  const started = performance.now();
  const { tenantId, conversationId, messageId } = input;
  // Independent reads in one wave: the conversation with the stored answer (one statement), and the day's spend.
  // Assembly starts in the same wave (its recall does not need them): a repeated or refused message wastes it, a
  // turn saves a wave.
  const budget = deps.dailyBudgetUsd(tenantId);
  const read = deps.conversations.withAnswer(tenantId, conversationId, messageId);
  const modelContent = deps.privacy.at('model', input.content).text;
  const assembling = deps.assembler.assemble({
    ...input,
    userContent: modelContent,
    conversation: read.then((r) => r.conversation),
  });
  assembling.catch(() => undefined); // awaited below only for a turn to answer
  const [{ answered, conversation }, spent] = await Promise.all([
    read,
    budget === undefined ? 0 : deps.llmCalls.spentToday(tenantId),
  ]);
  if (answered) {
    await refuseReusedMessageId(deps, input);
    return { kind: 'answered', result: answered };
  }
  if (!conversation) {
    throw ApplicationFailure.nonRetryable(
      `conversation ${conversationId} does not exist`,
      FailureTypes.conversationNotFound,
    );
  }
  if (budget !== undefined && spent >= budget) {
    throw ApplicationFailure.create({
      message: `tenant ${tenantId} has spent $${spent.toFixed(4)} of its $${budget} daily budget`,
      type: ModelFailure.budgetExceeded,
      nonRetryable: true,
      details: [{ spentUsd: spent, budgetUsd: budget }],
    });
  }
  const assembled = await assembling;
  // Kept in the form the message row will have (redacted by the store policy, sealed at rest): the model's copy is
  // rebuilt from the message itself by the model call.
  const storedContent = deps.privacy.at('store', input.content).text;
  const manifest = { ...assembled.manifest, userContent: storedContent };
  // loadContext leaves the texts for the model call in this process (it then reads none of them back); a model
  // call that assembled them has them already, and a later attempt that finds none reads them from PostgreSQL.
  const save = () =>
    deps.manifests.save(
      tenantId,
      conversationId,
      manifest,
      conversation.userId,
      keepSources ? assembled.sources : undefined,
    );
  // In the background the model is being paid for meanwhile: a write that failed (a dropped connection) is tried
  // once more, or the turn would be stored with no manifest (its context unaccounted for).
  const saved = saveInBackground
    ? save().catch((err: unknown) => {
        activityLogger(deps.log).warn(
          { tenantId, conversationId, messageId, error: err instanceof Error ? err.message : String(err) },
          'saving the context manifest failed; trying once more',
        );
        return save();
      })
    : save();
  if (saveInBackground)
    saved.catch(() => undefined); // the caller awaits it
  else await saved;
  const { tierTokens } = contextRef(manifest);
  for (const [tier, tokens] of Object.entries(tierTokens)) deps.metrics.contextTokens.inc({ tier }, tokens);
  const seconds = secondsSince(started);
  deps.metrics.turnDuration.observe({ phase: 'context' }, seconds);
  activityLogger(deps.log).info(
    {
      tenantId,
      conversationId,
      messageId,
      contextTokens: manifest.usedTokens,
      tierTokens,
      degradedTiers: manifest.degradedTiers,
      durationMs: Math.round(seconds * 1000),
    },
    'context assembled',
  );
  return { kind: 'ready', manifest, sources: assembled.sources, modelContent, storedContent, saved };
}

/**
 * A message whose id an earlier turn answered is that turn again only with the same content: another message under
 * a used id is refused (a raw Temporal caller's mistake; the client and the API refuse it before sending).
 */
export async function refuseReusedMessageId(
  deps: ActivityDeps,
  { tenantId, conversationId, messageId, content }: TurnContextInput,
): Promise<void> {
  const asked = await deps.conversations.userMessage(tenantId, conversationId, messageId);
  if (asked !== null && asked !== deps.privacy.at('store', content).text) {
    throw ApplicationFailure.nonRetryable(
      `messageId ${messageId} was already used for a different message`,
      FailureTypes.messageIdConflict,
    );
  }
}

/** The tiers' tokens sum to the context's (usedTokens is their total): the sum need not travel too. */
export function contextRef(manifest: ContextManifest): ContextRef {
  const tierTokens: Record<string, number> = {};
  for (const block of manifest.blocks) tierTokens[block.tier] = (tierTokens[block.tier] ?? 0) + block.tokens;
  return { tierTokens, ...(manifest.degradedTiers.length > 0 ? { degradedTiers: manifest.degradedTiers } : {}) };
}
