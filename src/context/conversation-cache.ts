/**
 * What a worker's assembler remembers of a conversation between its turns: what stays the same from turn to turn,
 * so a turn neither writes nor reads it again.
 *
 *   - the system prompts already stored in `conversation_system_prompts` (their digest): the row is insert-only, so
 *     once stored it stays until the conversation is erased;
 *   - the older messages of the archive's memory block: the newest messages before the window's start that fit the
 *     archive's allowance. They depend only on where the window starts and on that allowance (both change only at
 *     compaction), and stored messages never change (append-only), so between compactions they are the same.
 *
 * Why this stays correct without an invalidation message:
 *   - Erasure deletes the conversation's row, its messages and its system prompts together. Every entry is keyed by
 *     the conversation's identity — its `created_at`, read by the turn anyway (the conversation row is one of
 *     the turn's first reads) — so an erased conversation is never served (its row is gone: the turn fails before
 *     the cache is asked), and one created again under the same id is a new identity that finds nothing.
 *   - Another worker writing the conversation appends messages and compacts: new messages land after the window's
 *     start, which is read fresh every turn (hot tier or PostgreSQL), and a compaction moves the start, which is
 *     part of the key. Nothing another writer can do changes what an entry holds.
 * Bounded in memory: at most `maxConversations` conversations, and up to `maxChars` characters of older messages
 * (and as many of system prompts, apart) in all, least recently used first out.
 *
 * One hint besides, keyed by the conversation's id alone: whether its last turn here had every stored message in
 * context. It only decides when the turn's lexical search starts (the assembler checks the fact again on the turn's
 * own reads before leaving the search out), so a stale hint costs time, never a different context.
 */
import { LRUCache } from 'lru-cache';
import type { StoredMessage } from '../storage/conversations';

export interface ConversationCacheLimits {
  maxConversations: number;
  /** Characters of cached older messages, all conversations together. */
  maxChars: number;
}

export const DEFAULT_CONVERSATION_CACHE: ConversationCacheLimits = { maxConversations: 2_000, maxChars: 16_000_000 };

/** A conversation as one row of it was created: erased and created again, it is another one. */
export interface ConversationIdentity {
  tenantId: string;
  conversationId: string;
  createdAt: Date;
}

interface StoredPrompt {
  text: string;
  digest: string;
  /** The conversation's newest message when it was stored. */
  lastSeq: number;
}

interface OlderEntry {
  from: number;
  allowance: number;
  messages: StoredMessage[];
}

const keyOf = (c: ConversationIdentity) => `${c.tenantId}\n${c.conversationId}\n${c.createdAt.getTime()}`;
const promptKey = (c: ConversationIdentity, owner: string) => `${keyOf(c)}\n${owner}`;

export class ConversationCache {
  /** The system prompt this process last stored for each conversation identity and owner. */
  private readonly storedPrompts: LRUCache<string, StoredPrompt>;
  private readonly older: LRUCache<string, OlderEntry>;
  private readonly whole: LRUCache<string, true>;

  constructor(limits: ConversationCacheLimits = DEFAULT_CONVERSATION_CACHE) {
    this.storedPrompts = new LRUCache({
      max: limits.maxConversations,
      maxSize: limits.maxChars,
      sizeCalculation: (e) => Math.max(1, e.text.length),
    });
    this.older = new LRUCache({
      max: limits.maxConversations,
      maxSize: limits.maxChars,
      sizeCalculation: (e) =>
        Math.max(
          1,
          e.messages.reduce((n, m) => n + m.content.length, 0),
        ),
    });
    this.whole = new LRUCache({ max: limits.maxConversations });
  }

  /** Whether the conversation's last turn assembled here had every stored message in context (a hint). */
  wholeInContext(tenantId: string, conversationId: string): boolean {
    return this.whole.get(`${tenantId}\n${conversationId}`) === true;
  }

  noteWholeInContext(tenantId: string, conversationId: string, whole: boolean): void {
    const key = `${tenantId}\n${conversationId}`;
    if (whole) this.whole.set(key, true);
    else this.whole.delete(key);
  }

  /**
   * The digest of a system prompt this process has stored for the conversation, once it is surely durable. Its
   * insert commits asynchronously (as the manifest naming it does); a turn stored after it commits synchronously and
   * so flushes the WAL past it. Until the conversation's newest message is newer than when the prompt was stored,
   * it is stored again (a no-op when it is there): a database crash may have lost it.
   */
  storedPrompt(c: ConversationIdentity & { lastSeq: number }, owner: string, text: string): string | undefined {
    const stored = this.storedPrompts.get(promptKey(c, owner));
    return stored && stored.text === text && c.lastSeq > stored.lastSeq ? stored.digest : undefined;
  }

  /** Notes a system prompt as stored (call once its insert has succeeded), when the newest message was `lastSeq`. */
  promptStored(c: ConversationIdentity & { lastSeq: number }, owner: string, text: string, digest: string): void {
    const key = promptKey(c, owner);
    if (this.storedPrompts.get(key)?.text !== text) this.storedPrompts.set(key, { text, digest, lastSeq: c.lastSeq });
  }

  /** The older messages chosen for this window start and allowance, if they were chosen before. */
  olderMessages(c: ConversationIdentity, from: number, allowance: number): StoredMessage[] | undefined {
    const e = this.older.get(keyOf(c));
    return e && e.from === from && e.allowance === allowance ? e.messages : undefined;
  }

  /** Keeps the older messages chosen for this window start and allowance (the entry before them is replaced). */
  keepOlderMessages(c: ConversationIdentity, from: number, allowance: number, messages: StoredMessage[]): void {
    this.older.set(keyOf(c), { from, allowance, messages });
  }
}
