/**
 * What operators see: Prometheus metrics with bounded labels (and the Temporal SDK's own worker metrics),
 * structured log lines that lead back to the workflow, and OpenTelemetry traces from client to activities.
 */
import fs from 'node:fs';
import Fastify from 'fastify';
import { freePort } from './helpers/processes';
import { startStack, uniqueId, type Stack } from './helpers/stack';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
}

let stack: Stack;
let sdkMetricsPort: number;
const spans: OtlpSpan[] = [];
const collector = Fastify({ bodyLimit: 50 * 1024 * 1024 });
collector.post('/v1/traces', async (req) => {
  const body = req.body as { resourceSpans?: { scopeSpans?: { spans?: OtlpSpan[] }[] }[] };
  for (const rs of body.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []));
  return {};
});

beforeAll(async () => {
  const collectorUrl = await collector.listen({ host: '127.0.0.1', port: 0 });
  sdkMetricsPort = await freePort();
  stack = await startStack({
    env: {
      MEMOIR_TRACING: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl,
      MEMOIR_TEMPORAL_METRICS_PORT: String(sdkMetricsPort),
      MEMOIR_FACTS_EVERY: '2',
    },
  });
});
afterAll(async () => {
  await stack?.stop();
  await collector.close();
});

it('exports the expected counters after a conversation, and no label carries a conversation, user or tenant', async () => {
  const conversationId = uniqueId('observed');
  for (let i = 1; i <= 3; i++) {
    expect(
      (
        await stack.http('POST', `/v1/conversations/${conversationId}/messages`, {
          content: `Turn ${i}: my favourite port is Hvar.`,
          userId: 'user-ada',
        })
      ).status,
    ).toBe(200);
  }
  const res = await fetch(`${stack.serving.api!.url}/metrics`);
  const text = await res.text();
  const value = (line: RegExp) =>
    Number(
      text
        .split('\n')
        .find((l) => line.test(l))
        ?.split(' ')
        .at(-1),
    );
  expect(value(/^memoir_turns_total\{outcome="ok",model="claude-sonnet-5-5"\}/)).toBeGreaterThanOrEqual(3);
  expect(value(/^memoir_model_tokens_total\{model="claude-sonnet-5-5",kind="input"\}/)).toBeGreaterThan(0);
  expect(value(/^memoir_cost_usd_total\{model="claude-sonnet-5-5",purpose="reply"\}/)).toBeGreaterThan(0);
  expect(value(/^memoir_context_tokens_total\{tier="current"\}/)).toBeGreaterThan(0);
  for (const phase of ['context', 'model', 'persist', 'total']) {
    expect(
      value(new RegExp(`^memoir_turn_duration_seconds_count\\{phase="${phase}"\\}`)),
      phase,
    ).toBeGreaterThanOrEqual(3);
  }
  expect(text).toMatch(/^memoir_time_to_first_token_seconds_count\{model="claude-sonnet-5-5"\} \d+/m);
  // Cardinality: label values are bounded sets, never ids.
  const labelValues = [...text.matchAll(/="([^"]*)"/g)].map((m) => m[1]!);
  for (const forbidden of [conversationId, 'user-ada', stack.tenants.acme.id])
    expect(labelValues).not.toContain(forbidden);
  expect(text).not.toContain(conversationId);
});

it("exports the Temporal SDK's own worker metrics", async () => {
  const text = await (await fetch(`http://127.0.0.1:${sdkMetricsPort}/metrics`)).text();
  expect(text).toMatch(/^temporal_workflow_task_schedule_to_start_latency_bucket/m);
  expect(text).toMatch(/^temporal_worker_task_slots_available/m);
});

it('logs one JSON line per turn that carries its workflow id and token counts, never the message', async () => {
  const conversationId = uniqueId('logged');
  await stack.http('POST', `/v1/conversations/${conversationId}/messages`, {
    content: 'a private thought about Korčula',
    userId: 'bo',
  });
  const lines = fs
    .readFileSync(stack.logFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const turn = lines.find((l) => l.msg === 'turn stored' && l.conversationId === conversationId);
  expect(turn).toMatchObject({
    level: 30,
    workflowId: `conversation/${stack.tenants.acme.id}/${conversationId}`,
    runId: expect.any(String),
    activity: 'generateReply', // the model call stores the turn it answers (workflows/turn.ts)
    attempt: 1,
    tenantId: stack.tenants.acme.id,
    inputTokens: expect.any(Number),
    outputTokens: expect.any(Number),
    costUsd: expect.any(Number),
  });
  expect(fs.readFileSync(stack.logFile, 'utf8')).not.toContain('private thought');
});

it('traces a turn from the client through the workflow to its activities', async () => {
  const conversationId = uniqueId('traced');
  await stack.http('POST', `/v1/conversations/${conversationId}/messages`, { content: 'trace me', userId: 'cy' });
  // One trace holds the client's call, the workflow run, the turn's activity (context, model call and store in one,
  // patch model-call-loads-context) and the model request inside it.
  const complete = () => {
    const traces = new Map<string, string[]>();
    for (const s of spans) traces.set(s.traceId, [...(traces.get(s.traceId) ?? []), s.name]);
    return [...traces.values()].find(
      (names) =>
        names.some((n) => /UpdateWithStart|StartWorkflow|UpdateWorkflow/.test(n)) &&
        names.some((n) => n.startsWith('HandleUpdate:sendMessage')) &&
        names.some((n) => n.startsWith('RunActivity:generateReply')) &&
        names.some((n) => n.startsWith('anthropic.messages.create')),
    );
  };
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && !complete()) await new Promise((r) => setTimeout(r, 200));
  const traces = new Map<string, string[]>();
  for (const s of spans) traces.set(s.traceId, [...(traces.get(s.traceId) ?? []), s.name]);
  expect(complete(), JSON.stringify([...traces.values()].slice(0, 5))).toBeDefined();
});
