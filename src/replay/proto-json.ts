/**
 * History <-> proto JSON, the format of `temporal workflow show -o json` and of the UI's download.
 *
 * `historyFromJSON` / `historyToJSON` in @temporalio/common do the same, but in this install they throw
 * "type must be a Type": @temporalio/common, @temporalio/proto and @temporalio/worker each carry their own copy of
 * protobufjs 8 (the top level holds 7 for OpenTelemetry), and protobufjs' protojson checks `instanceof Type` against
 * its own copy. Resolving protobufjs from @temporalio/proto's location always gets the copy its types were built
 * with (or the shared one, once deduplicated). Because `Worker.runReplayHistory` calls the broken helper for any
 * history whose event ids are strings, replay is always handed the decoded `History` this module returns.
 */
import { createRequire } from 'node:module';
import type * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';

type History = proto.temporal.api.history.v1.IHistory;

interface ProtoJson {
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): History | null;
  toJson(type: unknown, message: unknown): unknown;
}

const protojson = createRequire(require.resolve('@temporalio/proto'))('protobufjs/ext/protojson') as ProtoJson;
// The CommonJS module object itself (an ESM namespace wrapper, as test runners hand out, has no reflection root),
// patched as @temporalio/common patches it; its generated types lack the reflection methods it has at runtime.
const protoRoot = createRequire(__filename)('@temporalio/proto') as typeof proto;
const historyType = (patchProtobufRoot(protoRoot) as unknown as { lookupType(name: string): unknown }).lookupType(
  'temporal.api.history.v1.History',
);

/** Parses proto JSON into a History (event ids as Long, timestamps as {seconds, nanos}); unknown fields ignored. */
export function historyFromProtoJson(json: unknown): History {
  const events = (json as { events?: unknown } | null)?.events;
  if (!Array.isArray(events)) throw new TypeError('not a workflow history: expected an object with an events array');
  const history = protojson.fromJson(
    historyType,
    { events: events.map((e) => normaliseEnums(e)) },
    { ignoreUnknownFields: true },
  );
  if (!history) throw new TypeError('not a workflow history');
  return history;
}

/** The proto JSON text of a history, indented. */
export function historyToProtoJson(history: History): string {
  const message = protoRoot.temporal.api.history.v1.History.fromObject(history);
  return JSON.stringify(protojson.toJson(historyType, message), null, 2);
}

/** Older tools (tctl, early UIs) wrote enum values as `WorkflowExecutionStarted`; protojson wants the full name. */
const ENUM_PREFIXES: Record<string, string> = {
  eventType: 'EVENT_TYPE',
  kind: 'TASK_QUEUE_KIND',
  parentClosePolicy: 'PARENT_CLOSE_POLICY',
  workflowIdReusePolicy: 'WORKFLOW_ID_REUSE_POLICY',
  initiator: 'CONTINUE_AS_NEW_INITIATOR',
  retryState: 'RETRY_STATE',
};

function normaliseEnums(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => normaliseEnums(v));
  if (typeof value === 'string') {
    const prefix = ENUM_PREFIXES[key];
    if (!prefix || !/^[A-Z][a-z][A-Za-z0-9]*$/.test(value)) return value;
    return `${prefix}_${value.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
  }
  if (value === null || typeof value !== 'object') return value;
  // Payload data and metadata are base64 and map keys are user data: leave their contents alone.
  if (key === 'payloads' || key === 'metadata' || key === 'fields' || key === 'indexedFields') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normaliseEnums(v, k)]));
}
