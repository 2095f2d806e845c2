/**
 * A tools module: what MEMOIR_TOOLS_MODULE names. Start Memoir with it and give a conversation its tools:
 *
 *   MEMOIR_TOOLS_MODULE=examples/tools.ts npm run memoir -- serve
 *
 * Each tool is a `defineTool`: a name, a description the model reads, a zod input schema (sent as JSON schema and
 * checked before `run`), and how it may be run again. `ctx.toolUseId` is the call's idempotency key: the same on
 * every attempt of one call, so a tool that talks to an external system can pass it along.
 */
import { z } from 'zod';
import { defineTool } from '../src/tools/define';

/** Reminders created by the demo (a real tool would call a calendar API with `ctx.toolUseId` as its key). */
const reminders = new Map<string, { text: string; at: string }>();

export const tools = [
  defineTool({
    name: 'current_time',
    description: 'The current date and time in an IANA time zone (for example Europe/Paris).',
    input: z.object({ timeZone: z.string().default('UTC').describe('IANA time zone name') }),
    // Reading the clock twice does no harm: Temporal may retry it.
    idempotent: true,
    timeoutMs: 5_000,
    run({ timeZone }) {
      try {
        return new Intl.DateTimeFormat('en-GB', { dateStyle: 'full', timeStyle: 'long', timeZone }).format(new Date());
      } catch {
        return { content: `unknown time zone ${timeZone}`, isError: true };
      }
    },
  }),
  defineTool({
    name: 'create_reminder',
    description: 'Creates a reminder for the user at a given time. A person approves each reminder first.',
    input: z.object({
      text: z.string().min(1).max(500),
      at: z.string().describe('When, as an ISO 8601 date-time'),
    }),
    // Creating a reminder twice would remind twice: at most once, and only after a person approves.
    idempotent: false,
    needsApproval: true,
    run({ text, at }, ctx) {
      reminders.set(ctx.toolUseId, { text, at });
      return `Reminder set for ${at}: ${text}`;
    },
  }),
];
