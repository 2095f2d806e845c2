/**
 * Erasure: a conversation, a user or a whole tenant removed from everywhere Memoir keeps it — the workflow is
 * ended, PostgreSQL rows deleted, vectors removed from the semantic store, cache entries dropped, and (with
 * payload encryption) the scoped key destroyed, which makes the immutable Temporal histories unreadable.
 * `llm_calls` rows stay: they hold no text, and the bill must still add up.
 */
import type { Client } from '@temporalio/client';
import type { Encryption } from '../codec';
import type { HotTier } from '../memory/hot-tier';
import type { SemanticTier } from '../memory/semantic-tier';
import type { CachedArchive } from '../memory/summaries';
import type { TwoLevelCache } from '../memory/two-level-cache';
import type { StreamBus } from '../streaming/bus';
import { checkTenantId } from '../api/auth';
import { MemoirError } from '../client/errors';
import type { Db } from '../storage/db';
import { conversationWorkflowId } from '../../workflows/contract';
import { deleteWorkflowRuns } from './delete-workflow';
import { ErasureTombstones, type ErasureTarget } from './tombstones';

export interface ErasureReport {
  conversations: number;
  workflowsEnded: number;
  /** Runs deleted from Temporal (the server removes them asynchronously). */
  workflowRunsDeleted: number;
  messages: number;
  manifests: number;
  summaries: number;
  facts: number;
  vectors: number;
  cacheEntries: number;
  keysDestroyed: number;
}

export interface EraserDeps {
  db: Db;
  temporal: Client;
  hot: HotTier;
  semantic: SemanticTier | undefined;
  summaryCache: TwoLevelCache<CachedArchive>;
  streams: StreamBus;
  encryption: Encryption | undefined;
}

const empty = (): ErasureReport => ({
  conversations: 0,
  workflowsEnded: 0,
  workflowRunsDeleted: 0,
  messages: 0,
  manifests: 0,
  summaries: 0,
  facts: 0,
  vectors: 0,
  cacheEntries: 0,
  keysDestroyed: 0,
});

function add(a: ErasureReport, b: ErasureReport): ErasureReport {
  const out = { ...a };
  for (const k of Object.keys(b) as (keyof ErasureReport)[]) out[k] += b[k];
  return out;
}

export class Eraser {
  private readonly tombstones: ErasureTombstones;

  constructor(private readonly d: EraserDeps) {
    this.tombstones = new ErasureTombstones(d.db);
  }

  /** Erases one conversation; a conversation that never existed yields an all-zero report. */
  async eraseConversation(tenantId: string, conversationId: string): Promise<ErasureReport> {
    checkTenantId(tenantId);
    return this.eraseConversationData(tenantId, conversationId);
  }

  private async eraseConversationData(tenantId: string, conversationId: string): Promise<ErasureReport> {
    // First the tombstone: an activity of this conversation still running checks it before writing back, and the
    // codec seals what its workflow still produces under a discarded key (its row is about to go).
    await this.tombstones.record(tenantId, { conversationId });
    const report = empty();
    const runs = await deleteWorkflowRuns(this.d.temporal, conversationWorkflowId(tenantId, conversationId));
    report.workflowsEnded = runs.ended;
    report.workflowRunsDeleted = runs.deleted;
    const counts = await this.d.db.query<Record<string, number>>(
      `SELECT (SELECT count(*) FROM messages WHERE tenant_id = $1 AND conversation_id = $2)::int AS messages,
              (SELECT count(*) FROM context_manifests WHERE tenant_id = $1 AND conversation_id = $2)::int AS manifests,
              (SELECT count(*) FROM summaries WHERE tenant_id = $1 AND conversation_id = $2)::int AS summaries,
              (SELECT count(*) FROM facts WHERE tenant_id = $1 AND conversation_id = $2)::int AS facts`,
      [tenantId, conversationId],
    );
    Object.assign(report, counts[0]);
    if (this.d.semantic) report.vectors = await this.d.semantic.store.deleteConversation(tenantId, conversationId);
    report.cacheEntries = await this.dropCaches(tenantId, conversationId);
    // Its system prompts (conversation_system_prompts) go with the row: they belong to this conversation only.
    const deleted = await this.d.db.transaction(async (tx) => {
      const rows = await tx.query(
        'DELETE FROM conversations WHERE tenant_id = $1 AND conversation_id = $2 RETURNING 1',
        [tenantId, conversationId],
      );
      await tx.query('DELETE FROM redactions WHERE tenant_id = $1 AND conversation_id = $2', [
        tenantId,
        conversationId,
      ]);
      return rows.length;
    });
    report.conversations = deleted;
    // The id may be reused by another user: its payloads must not be sealed for the erased owner.
    this.d.encryption?.codec.forgetOwners(tenantId, { conversationId });
    await this.renew(tenantId, { conversationId });
    return report;
  }

  /**
   * Records the tombstone again once everything is gone. Other processes drop cached owners and data keys when
   * they see a tombstone (src/codec/erasure-watch.ts); one that looked an owner or key up again while this erasure
   * was running would otherwise keep what it found.
   */
  private renew(tenantId: string, target: ErasureTarget): Promise<void> {
    return this.tombstones.record(tenantId, target);
  }

  /**
   * Recent messages, the cached summary, the retained reply streams and the cached embeddings of its texts
   * (cached per conversation, so erasing every conversation of a user erases that user's), counted. Runs before
   * the rows go: if Redis cannot be reached the erasure stops here, nothing is reported as done, and running it
   * again finishes it.
   */
  private async dropCaches(tenantId: string, conversationId: string): Promise<number> {
    try {
      return (
        (await this.d.hot.drop(tenantId, conversationId)) +
        (await this.d.summaryCache.erase(`${tenantId}/${conversationId}`)) +
        (await this.d.streams.dropConversation(tenantId, conversationId)) +
        ((await this.d.semantic?.forgetConversation(tenantId, conversationId)) ?? 0)
      );
    } catch (err) {
      throw new MemoirError(
        'unavailable',
        503,
        `the cache could not be reached, so the conversation is not yet erased; retry (${String(err)})`,
      );
    }
  }

  /** Erases every conversation of a user, their vectors anywhere in the tenant, and their key (user scope). */
  async eraseUser(tenantId: string, userId: string): Promise<ErasureReport> {
    checkTenantId(tenantId);
    await this.tombstones.record(tenantId, { userId });
    const rows = await this.d.db.query<{ conversation_id: string }>(
      'SELECT conversation_id FROM conversations WHERE tenant_id = $1 AND user_id = $2',
      [tenantId, userId],
    );
    let report = empty();
    for (const r of rows) report = add(report, await this.eraseConversationData(tenantId, r.conversation_id));
    if (this.d.semantic) report.vectors += await this.d.semantic.store.deleteUser(tenantId, userId);
    this.d.encryption?.codec.forgetOwners(tenantId, { userId });
    if (this.d.encryption) report.keysDestroyed = await this.d.encryption.keys.destroyScope({ tenantId, userId });
    await this.renew(tenantId, { userId });
    return report;
  }

  /**
   * Erases a whole tenant, its key included. Its database API keys are revoked and its tombstone written first,
   * so no conversation can be created while the erasure lists and removes them; API keys from configuration
   * (MEMOIR_API_KEYS) cannot be revoked here, and are refused from then on because of the tombstone.
   */
  async eraseTenant(tenantId: string): Promise<ErasureReport> {
    checkTenantId(tenantId);
    await this.tombstones.record(tenantId, { tenant: true });
    await this.d.db.query('UPDATE api_keys SET revoked_at = now() WHERE tenant_id = $1 AND revoked_at IS NULL', [
      tenantId,
    ]);
    const rows = await this.d.db.query<{ conversation_id: string }>(
      'SELECT conversation_id FROM conversations WHERE tenant_id = $1',
      [tenantId],
    );
    let report = empty();
    for (const r of rows) report = add(report, await this.eraseConversationData(tenantId, r.conversation_id));
    this.d.encryption?.codec.forgetOwners(tenantId);
    // Cached embeddings live under the tenant's prefix (per conversation; entries cached before that per tenant).
    if (this.d.semantic) report.cacheEntries += await this.d.semantic.forgetTenant(tenantId);
    if (this.d.encryption) report.keysDestroyed = await this.d.encryption.keys.destroyScope({ tenantId });
    await this.renew(tenantId, { tenant: true });
    return report;
  }
}
