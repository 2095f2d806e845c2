/**
 * Custom search attributes of conversation workflows, so operators can find, sort and filter conversations in the
 * Temporal UI. `temporal-config/search-attributes.json` registers the same set on the server.
 */
import { defineSearchAttributeKey } from '@temporalio/common';

export const SearchAttributes = {
  tenantId: defineSearchAttributeKey('TenantId', 'KEYWORD'),
  userId: defineSearchAttributeKey('UserId', 'KEYWORD'),
  turnCount: defineSearchAttributeKey('TurnCount', 'INT'),
  totalCostUsd: defineSearchAttributeKey('TotalCostUsd', 'DOUBLE'),
  cacheHitRatio: defineSearchAttributeKey('CacheHitRatio', 'DOUBLE'),
  lastMessageAt: defineSearchAttributeKey('LastMessageAt', 'DATETIME'),
  status: defineSearchAttributeKey('ConversationStatus', 'KEYWORD'),
} as const;
