/**
 * Context manifests: what a turn's model call was given, by reference. loadContext writes one; generateReply
 * rebuilds the request from it; the API shows it ("why did the agent say that?").
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { FactView } from '../memory/facts';
import type { Summary } from '../memory/summaries';
import type { MessageSealer, Participants, StoredMessage } from './conversations';
import { ASYNC_COMMIT, type Db } from './db';

export type ContextTier = 'system' | 'summary' | 'facts' | 'recent' | 'semantic' | 'older' | 'current';

export interface ManifestBlock {
  tier: ContextTier;
  tokens: number;
  /** Message sequence numbers, fact ids or memory ids the block was made from. */
  sourceIds: string[];
}

export interface ContextManifest {
  version: 2;
  /** The user message this context answers. */
  messageId: string;
  turn: number;
  /**
   * Names the system prompt in `conversation_system_prompts`: a digest keyed by the owner's data key (a sha256 in
   * manifests written before migration 008, which copied their prompts there). The name stays for stored manifests.
   */
  systemPromptSha: string;
  /** Summary version in the cached memory block (its facts snapshot included), or null. */
  summaryVersion: number | null;
  /** Which parts of that version were sent (a budget too small for both drops facts, then the summary). */
  memoryParts: { summary: boolean; facts: boolean };
  /** Sequence numbers of the history messages sent verbatim, oldest first. */
  historySeqs: number[];
  /** Older messages sent verbatim in the cached memory block, oldest first. */
  olderSeqs: number[];
  /**
   * The new user message in its stored form: redacted like the message row (MEMOIR_REDACT=store) and, in the
   * database, sealed like it (MEMOIR_ENCRYPT_AT_REST). Read back through `get`, it is plaintext.
   */
  userContent: string;
  /** What went into the per-turn data block. Fact texts are kept: facts change, a manifest must not. */
  recall: { messageSeqs: number[]; facts: FactView[] };
  /** The recall gate's signal and verdict (absent in manifests written before the gate). */
  recallGate?: { score: number; threshold: number; open: boolean; mode: 'turn' | 'fill' };
  /** Names recalled lines were labelled with; absent when the conversation has none (and in older manifests). */
  participants?: Participants;
  blocks: ManifestBlock[];
  /** Tiers that were down, so the turn went without them. */
  degradedTiers: string[];
  budgetTokens: number;
  usedTokens: number;
  /** When each tier's load started and ended, in ms from the start of assembly. */
  timings: Record<string, [number, number]>;
  createdAt: string;
}

/**
 * What a manifest names, as the assembler read it: the texts the model request is built from. Handed from
 * loadContext to the model call in the same process, they spare it reading them back (the system prompt, the
 * summary archive, three message lists). Stored forms, like the rows they came from.
 */
export interface ManifestSources {
  system: string;
  /** The archive at the manifest's summary version, oldest first. */
  archive: Pick<Summary, 'text' | 'facts'>[];
  history: StoredMessage[];
  recalled: StoredMessage[];
  older: StoredMessage[];
}

/** A manifest handed to its model call, with its sources when the process that assembled it has them. */
export interface HandedManifest {
  manifest: ContextManifest;
  sources?: ManifestSources;
}

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

export class ManifestStore {
  /**
   * Manifests this process saved and whose model call has not asked for them yet: generateReply usually runs on
   * the worker whose loadContext saved its manifest (eager activity dispatch), and then skips reading it back.
   */
  private readonly saved = new LRUCache<string, HandedManifest>({
    max: 1_000,
    // A turn whose model call ran elsewhere leaves its entry here: no text lingers longer than a model call's
    // start-to-close bound, past which it would not be asked for.
    ttl: 60_000,
    ttlAutopurge: true,
  });

  constructor(
    private readonly db: Db,
    /** Seals `userContent` as message rows are sealed; absent: stored as given. */
    private readonly sealer?: MessageSealer,
  ) {}

  private static key(tenantId: string, conversationId: string, messageId: string): string {
    return `${tenantId}/${conversationId}/${messageId}`;
  }

  /**
   * Saves (or, for a retried activity, replaces) the manifest of one turn. `userContent` must already be in its
   * stored form (redacted by the store policy); it is sealed for `owner` here.
   */
  async save(
    tenantId: string,
    conversationId: string,
    manifest: ContextManifest,
    owner: string,
    sources?: ManifestSources,
  ): Promise<void> {
    const userContent = this.sealer
      ? await this.sealer.seal(tenantId, owner, manifest.userContent)
      : manifest.userContent;
    // Committed without waiting for its WAL flush (see ASYNC_COMMIT): the turn's persist, a synchronous commit
    // later in the same WAL, makes it durable with the turn, and the model call of this process has it in memory.
    await this.db.query(
      `INSERT INTO context_manifests (tenant_id, conversation_id, message_id, manifest)
       SELECT $1::text, $2::text, $3::text, $4::jsonb FROM ${ASYNC_COMMIT}
       ON CONFLICT (tenant_id, conversation_id, message_id) DO UPDATE SET manifest = EXCLUDED.manifest`,
      [tenantId, conversationId, manifest.messageId, JSON.stringify({ ...manifest, userContent })],
    );
    this.saved.set(ManifestStore.key(tenantId, conversationId, manifest.messageId), {
      manifest,
      ...(sources ? { sources } : {}),
    });
  }

  /**
   * The manifest of a turn for its model call: the one this process has just saved if it has it (handed over
   * once, so no message text lingers here), else the stored one.
   */
  async forModelCall(tenantId: string, conversationId: string, messageId: string): Promise<HandedManifest | null> {
    const key = ManifestStore.key(tenantId, conversationId, messageId);
    const saved = this.saved.get(key);
    if (saved) {
      this.saved.delete(key);
      return saved;
    }
    const manifest = await this.get(tenantId, conversationId, messageId);
    return manifest ? { manifest } : null;
  }

  async get(tenantId: string, conversationId: string, messageId: string): Promise<ContextManifest | null> {
    const rows = await this.db.query<{ manifest: ContextManifest }>(
      'SELECT manifest FROM context_manifests WHERE tenant_id = $1 AND conversation_id = $2 AND message_id = $3',
      [tenantId, conversationId, messageId],
    );
    const manifest = rows[0]?.manifest;
    if (!manifest) return null;
    if (!this.sealer) return manifest;
    return { ...manifest, userContent: await this.sealer.open(tenantId, manifest.userContent) };
  }

  /**
   * Stores the system prompt a turn of this conversation was given, once per conversation, and returns the name a
   * manifest keeps. The copy belongs to the conversation (erased with it, never shared with another tenant or
   * user) and is sealed for `owner` like message text; its name is a digest keyed by the owner's data key, so equal
   * prompts of two tenants get unrelated names. Without encryption the text is stored as given and the name is a
   * sha256 salted with the tenant and conversation.
   */
  async putSystemPrompt(tenantId: string, conversationId: string, owner: string, text: string): Promise<string> {
    const sealer = this.sealer;
    const digest = sealer
      ? await sealer.digest(tenantId, owner, text)
      : sha256(`${tenantId}\n${conversationId}\n${text}`);
    const stored = sealer ? await sealer.seal(tenantId, owner, text) : text;
    // Committed like the manifests that name it (see `save`), and before them in the WAL.
    await this.db.query(
      `INSERT INTO conversation_system_prompts (tenant_id, conversation_id, digest, text)
       SELECT $1::text, $2::text, $3::text, $4::text FROM ${ASYNC_COMMIT}
       ON CONFLICT DO NOTHING`,
      [tenantId, conversationId, digest, stored],
    );
    return digest;
  }

  /** The text of a system prompt a manifest of this conversation names, opened; null when there is none. */
  async systemPrompt(tenantId: string, conversationId: string, digest: string): Promise<string | null> {
    const rows = await this.db.query<{ text: string }>(
      'SELECT text FROM conversation_system_prompts WHERE tenant_id = $1 AND conversation_id = $2 AND digest = $3',
      [tenantId, conversationId, digest],
    );
    const stored = rows[0]?.text;
    if (stored === undefined) return null;
    return this.sealer ? this.sealer.open(tenantId, stored) : stored;
  }
}
