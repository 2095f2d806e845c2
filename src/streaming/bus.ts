/**
 * The reply stream bus: generateReply publishes text deltas of a turn as the model produces them; the API
 * relays them to clients as Server-Sent Events. Events are kept for a while per turn, so a client that
 * reconnects with `Last-Event-ID` gets what it missed. The durable reply still flows through the workflow;
 * the stream is a preview of it, and a lost stream loses nothing.
 */

export type StreamEvent =
  /** An attempt began; `restart` when text of an earlier attempt was already sent (the client discards it). */
  | { type: 'attempt'; attempt: number; model: string; restart: boolean }
  | { type: 'delta'; text: string }
  /** A tool call of this turn waits for a person's decision (approveToolCall / denyToolCall). */
  | { type: 'tool_approval_required'; toolUseId: string; tool: string; input: unknown };

export interface ReceivedEvent {
  /** Opaque, increasing within a turn: the SSE event id. */
  id: string;
  event: StreamEvent;
}

export interface TurnChannel {
  tenantId: string;
  conversationId: string;
  messageId: string;
}

export interface StreamBus {
  readonly kind: 'redis' | 'memory';
  publish(channel: TurnChannel, event: StreamEvent): Promise<void>;
  /** Whether any text of this turn was published already (a new attempt then restarts the reply). */
  hasText(channel: TurnChannel): Promise<boolean>;
  /**
   * Marks the turn as listened to, before its message is sent (the API, for a client that asked for a stream): the
   * worker publishes a turn's events only when it was marked before the attempt began.
   */
  listen(channel: TurnChannel): Promise<void>;
  /**
   * Publishes that an attempt began, as a restart when text of the turn was published already: `hasText` and
   * `publish` in one step (on Redis, one round trip). Resolves to whether the turn is listened to; when it is not,
   * nothing is published and the attempt publishes no text either (a turn nobody streams costs no deltas).
   */
  startAttempt(channel: TurnChannel, attempt: number, model: string): Promise<boolean>;
  /** Delivers events after `afterId` (all retained ones when absent) and new ones until `signal` aborts. */
  subscribe(
    channel: TurnChannel,
    afterId: string | undefined,
    onEvent: (e: ReceivedEvent) => void,
    signal: AbortSignal,
  ): Promise<void>;
  /** Deletes every retained event of the conversation's turns (erasure); returns how many turns had some. */
  dropConversation(tenantId: string, conversationId: string): Promise<number>;
  close(): Promise<void>;
}

export const channelKey = (c: TurnChannel) => `${c.tenantId}/${c.conversationId}/${c.messageId}`;

/** How long a turn's events are kept for late or reconnecting clients. */
export const RETAIN_MS = 10 * 60_000;
