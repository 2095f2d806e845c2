/**
 * Administration verbs: API keys (stored hashed) and erasure.
 */
import { type Command } from 'commander';
import { openServices } from '../runtime/services';
import { ApiKeyStore } from '../security/api-keys';
import { isValidId } from '../../workflows/contract';
import { openCliDatabase } from './connect';
import { CliError } from './errors';
import type { VerbContext } from './inspect';

const print = (ctx: VerbContext, text: string) => (ctx.out ?? process.stdout).write(`${text}\n`);

function checkId(what: string, id: string | undefined): string | undefined {
  if (id !== undefined && !isValidId(id)) throw new CliError(`${what} must match [A-Za-z0-9._-]{1,128}`);
  return id;
}

async function withKeys<T>(ctx: VerbContext, fn: (keys: ApiKeyStore) => Promise<T>): Promise<T> {
  const db = await openCliDatabase(ctx.config);
  try {
    return await fn(new ApiKeyStore(db));
  } finally {
    await db.close();
  }
}

export function adminVerbs(cli: Command, context: () => VerbContext): void {
  const keys = cli.command('keys').description('API keys: stored as SHA-256 digests, shown once at creation');
  keys
    .command('create')
    .description('create an API key for a tenant and print it (the only time it is shown)')
    .requiredOption('--tenant <tenantId>', 'the tenant the key acts for')
    .option('--label <label>', 'a note for whoever reads `keys list`')
    .action(async (o: { tenant: string; label?: string }) => {
      const ctx = context();
      const tenant = checkId('--tenant', o.tenant)!;
      const created = await withKeys(ctx, (k) => k.create(tenant, o.label));
      print(
        ctx,
        `key id ${created.keyId} for tenant ${tenant}:\n${created.key}\n(store it now; only its digest is kept)`,
      );
    });
  keys
    .command('list')
    .description('list API keys (ids, tenants, dates; never the keys)')
    .option('--tenant <tenantId>', 'only this tenant')
    .action(async (o: { tenant?: string }) => {
      const ctx = context();
      const rows = await withKeys(ctx, (k) => k.list(checkId('--tenant', o.tenant)));
      for (const r of rows) {
        print(
          ctx,
          `${r.keyId}  ${r.tenantId.padEnd(20)} ${r.createdAt.toISOString()}  ${r.revokedAt ? `revoked ${r.revokedAt.toISOString()}` : 'active'}  ${r.label ?? ''}`,
        );
      }
      print(ctx, `${rows.length} key(s)`);
    });
  keys
    .command('revoke')
    .description('revoke an API key (API processes stop accepting it within 30 s)')
    .argument('<keyId>')
    .action(async (keyId: string) => {
      const ctx = context();
      if (!(await withKeys(ctx, (k) => k.revoke(keyId)))) throw new CliError(`no active key ${keyId}`);
      print(ctx, `revoked ${keyId}`);
    });

  cli
    .command('erase')
    .description('erase a conversation, a user or a whole tenant everywhere, and report what went')
    .requiredOption('--tenant <tenantId>')
    .option('--user <userId>', 'erase this user (every conversation, their vectors and their key)')
    .option('--conversation <conversationId>', 'erase this conversation')
    .option('--all', 'erase the whole tenant (needed when neither --user nor --conversation is given)')
    .option('--json', 'print the report as JSON')
    .action(async (o: { tenant: string; user?: string; conversation?: string; all?: boolean; json?: boolean }) => {
      const ctx = context();
      const tenant = checkId('--tenant', o.tenant)!;
      if (!o.user && !o.conversation && !o.all)
        throw new CliError('say what to erase: --user, --conversation or --all');
      const services = await openServices(ctx.config, ctx.log, { progress: () => undefined });
      try {
        const { eraser } = services;
        const report = o.conversation
          ? await eraser.eraseConversation(tenant, checkId('--conversation', o.conversation)!)
          : o.user
            ? await eraser.eraseUser(tenant, checkId('--user', o.user)!)
            : await eraser.eraseTenant(tenant);
        print(
          ctx,
          o.json
            ? JSON.stringify(report)
            : Object.entries(report)
                .map(([k, v]) => `${k.padEnd(16)} ${v}`)
                .join('\n'),
        );
      } finally {
        await services.close();
      }
    });
}
