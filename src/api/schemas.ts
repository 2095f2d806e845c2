/**
 * Request shapes of HTTP API v1 (zod). Message text limits are checked again by the workflow's validator.
 */
import { z } from 'zod';
import { ID_PATTERN } from '../../workflows/contract';
import { TOOL_NAME_PATTERN } from '../tools/types';
import { checkSentAt, hasInvalidText } from '../../workflows/validate';

export const id = z.string().regex(ID_PATTERN, 'must match [A-Za-z0-9._-]{1,128}');

/** Free text we store or search with: valid UTF-8 (no lone surrogates) and no NUL, as message content must be. */
const text = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((t) => !hasInvalidText(t), 'must be valid UTF-8 text without NUL characters');

export const conversationParams = z.object({ id });

/** Most tools one conversation may have (each definition is sent with every model step). */
export const MAX_CONVERSATION_TOOLS = 64;

const toolNames = z
  .array(z.string().regex(TOOL_NAME_PATTERN, 'tool names match [a-zA-Z0-9_-]{1,64}'))
  .max(MAX_CONVERSATION_TOOLS)
  .refine((names) => new Set(names).size === names.length, 'names a tool twice');

export const createConversationBody = z.strictObject({
  conversationId: id.optional(),
  userId: id,
  systemPrompt: text(64 * 1024).optional(),
  /** Tools the conversation may call (unknown names: 400 `unknown_tool`). */
  tools: toolNames.optional(),
  /** Who speaks as the user and as the assistant: recall labels lines with these names and matches questions on them. */
  participants: z.strictObject({ user: text(80).optional(), assistant: text(80).optional() }).optional(),
});

/** When a message was said: an ISO 8601 timestamp with a time zone, not ahead of the server's clock (a 400 if so). */
const sentAt = z.string().superRefine((value, ctx) => {
  const problem = checkSentAt(value, Date.now());
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const sendMessageBody = z.strictObject({
  content: z.string(),
  messageId: id.optional(),
  userId: id.optional(),
  sentAt: sentAt.optional(),
});

export const sendMessageQuery = z.object({
  async: z.enum(['true', 'false']).optional(),
  stream: z.enum(['true', 'false']).optional(),
});

export const listMessagesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.coerce.number().int().min(1).optional(),
});

export const messageParams = z.object({ id, messageId: id });

export const previewContextBody = z.strictObject({
  query: text(32 * 1024),
  budgetTokens: z.number().int().min(100).max(1_000_000).optional(),
  /** Try other recall settings than the deployment's (debugging, benchmarks). */
  recall: z
    .strictObject({ topK: z.number().int().min(0).max(500).optional(), share: z.number().min(0.05).max(1).optional() })
    .optional(),
});

export const toolCallParams = z.object({ id, toolUseId: id });

export const toolDecisionBody = z.strictObject({
  /** Who decided; defaults to the name of the API key that made the request. */
  by: text(200).optional(),
  reason: text(2000).optional(),
});

export const listToolCallsQuery = z.object({
  /** `io` adds each call's input and result. */
  include: z.enum(['io']).optional(),
  messageId: id.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
