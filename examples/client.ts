/**
 * Messaging a conversation from TypeScript, without HTTP. Start `npm run memoir -- serve` in another terminal,
 * then `npx tsx examples/client.ts` (or with TEMPORAL_ADDRESS set for a remote deployment).
 *
 * With payload encryption on (MEMOIR_MASTER_KEYS), a client needs the same keys and database access as the
 * server to read replies; without them, use the HTTP API (`memoir chat`).
 */
import { createMemoirClient } from '../src';

async function main(): Promise<void> {
  const connected = await createMemoirClient();
  const { memoir } = connected;
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
    await connected.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
