/**
 * Messaging a conversation from TypeScript, without HTTP, the way an application does: with the client package
 * (`npm install @memoir/client`; in this repository the name resolves to packages/client through tsconfig
 * paths). Start `npm run memoir -- serve` in another terminal, then `npm run example` (TEMPORAL_ADDRESS for a
 * remote deployment, MEMOIR_TASK_QUEUE when the workers use another queue).
 *
 * With payload encryption on (MEMOIR_MASTER_KEYS), a client needs the same keys and database access as the
 * server to read replies: use the server package's `createMemoirClient`, or the HTTP API (`memoir chat`).
 */
import { connectMemoirClient } from '@memoir/client';

async function main(): Promise<void> {
  const { memoir, close } = await connectMemoirClient();
  try {
    const tenant = process.env.EXAMPLE_TENANT ?? 'demo';
    const conversation = `example-${Date.now()}`;
    const first = await memoir.sendMessage(tenant, conversation, { content: 'Hello! My name is Ada.', userId: 'ada' });
    console.log(`memoir ▸ ${first.reply.content}`);
    const second = await memoir.sendMessage(tenant, conversation, { content: 'What is my name?' });
    console.log(
      `memoir ▸ ${second.reply.content}  (${second.usage.inputTokens} tokens in, $${second.usage.costUsd.toFixed(6)})`,
    );
    const state = await memoir.getState(tenant, conversation);
    console.log(`${state.turnCount} turns, total $${state.totals.costUsd.toFixed(6)}`);
  } finally {
    await close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
