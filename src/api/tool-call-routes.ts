/**
 * Tool calls under `/v1`: approve or deny a call the turn is paused on, and list a conversation's calls. Registered
 * inside the `/v1` plugin (see `./v1`), so its authentication hook covers them whatever the path's spelling.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ToolCallView } from '../client/tool-calls';
import { bearerKey, type ApiKeyResolver } from './auth';
import { conversationParams, listToolCallsQuery, toolCallParams, toolDecisionBody } from './schemas';
import { parse } from './parse';
import type { V1Options } from './v1';

export function toolCallRoutes(v1: FastifyInstance, opts: V1Options): void {
  for (const verdict of ['approve', 'deny'] as const) {
    v1.post(`/conversations/:id/tool-calls/:toolUseId/${verdict}`, async (req) => {
      const { id, toolUseId } = parse(toolCallParams, req.params);
      const body = parse(toolDecisionBody, req.body);
      const by = body.by ?? (await keyName(opts.keys, req));
      const decision = { by, reason: body.reason };
      if (verdict === 'approve') await opts.memoir.approveToolCall(req.tenantId, id, toolUseId, decision);
      else await opts.memoir.denyToolCall(req.tenantId, id, toolUseId, decision);
      req.log.info({ tenantId: req.tenantId, conversationId: id, toolUseId, verdict }, 'tool call decided');
      return {
        toolUseId,
        decision: verdict === 'approve' ? 'approved' : 'denied',
        by,
        ...(body.reason ? { reason: body.reason } : {}),
      };
    });
  }

  v1.get('/conversations/:id/tool-calls', async (req): Promise<{ toolCalls: ToolCallView[] }> => {
    const { id } = parse(conversationParams, req.params);
    const query = parse(listToolCallsQuery, req.query);
    const toolCalls = await opts.memoir.listToolCalls(req.tenantId, id, {
      includeIo: query.include === 'io',
      messageId: query.messageId,
      limit: query.limit,
    });
    return { toolCalls };
  });
}

/** Who decided, when the body does not say: the request's API key by its name, never the key itself. */
async function keyName(keys: ApiKeyResolver, req: FastifyRequest): Promise<string> {
  const key = bearerKey(req.headers.authorization);
  return (key && (await keys.name?.(key))) || `an API key of ${req.tenantId}`;
}
