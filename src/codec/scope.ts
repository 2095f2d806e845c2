/**
 * Key scopes and key ids. A scope is whose data a key protects: `system`, a tenant (`t/<tenantId>`) or one user of
 * a tenant (`t/<tenantId>/u/<userId>`). A key id is `<scope>@<version>`. Ids cannot contain `/` or `@`
 * (ID_PATTERN), so a scope name is unambiguous and a user scope always sits under its tenant's prefix.
 */
import { ID_PATTERN } from '../../workflows/contract';

/** Whose data a key protects. */
export type KeyScope = 'system' | { tenantId: string; userId?: string | undefined };

export const SYSTEM_SCOPE = 'system';

const ID = '[A-Za-z0-9._-]{1,128}';
const KEY_ID = new RegExp(`^(${SYSTEM_SCOPE}|t/${ID}(?:/u/${ID})?)@([1-9][0-9]{0,8})$`);
const CONVERSATION_WORKFLOW_ID = new RegExp(`^conversation/(${ID})/(${ID})$`);

/** The stored name of a scope. Throws on an invalid tenant or user id, which could otherwise alias another scope. */
export function scopeName(scope: KeyScope): string {
  if (scope === SYSTEM_SCOPE) return SYSTEM_SCOPE;
  if (!ID_PATTERN.test(scope.tenantId)) throw new Error(`invalid tenant id for a key scope: "${scope.tenantId}"`);
  if (scope.userId === undefined) return `t/${scope.tenantId}`;
  if (!ID_PATTERN.test(scope.userId)) throw new Error(`invalid user id for a key scope: "${scope.userId}"`);
  return `t/${scope.tenantId}/u/${scope.userId}`;
}

export function keyIdOf(scope: string, version: number): string {
  return `${scope}@${version}`;
}

/** Scope and version of a key id, or undefined when it is not one this store could have issued. */
export function parseKeyId(keyId: string): { scope: string; version: number } | undefined {
  const match = KEY_ID.exec(keyId);
  return match ? { scope: match[1]!, version: Number(match[2]) } : undefined;
}

/** Tenant and conversation of a conversation workflow id (`conversation/<tenantId>/<conversationId>`). */
export function conversationOfWorkflowId(workflowId: string): { tenantId: string; conversationId: string } | undefined {
  const match = CONVERSATION_WORKFLOW_ID.exec(workflowId);
  return match ? { tenantId: match[1]!, conversationId: match[2]! } : undefined;
}
