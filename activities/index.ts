/**
 * Every activity of a conversation, created over the worker's clients. The workflow proxies the type of this
 * factory's result, so activity names and signatures are checked at compile time.
 */
import { conversationActivities } from './conversation';
import type { ActivityDeps } from './deps';
import { generateReplyActivities } from './generate-reply';
import { memoryActivities } from './memory';
import { toolActivities } from './tools';

export function createActivities(deps: ActivityDeps) {
  return {
    ...conversationActivities(deps),
    ...generateReplyActivities(deps),
    ...memoryActivities(deps),
    ...toolActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { ActivityDeps } from './deps';
