/**
 * Units of the benchmark harness whose mistakes would silently skew published figures: the streaming pace handed
 * to the offline model, think time between a conversation's turns, the server settings recorded with the results,
 * and the overhead suite's plan (both transports measured in every repeat). No timing is asserted here.
 */
import { describeSettings } from '../../bench/lib/infra';
import { DEFAULT_PACE, paceSettings, parsePace } from '../../bench/lib/offline';
import { pickReady } from '../../bench/lib/think';
import { windowFigures } from '../../bench/lib/window';
import { overheadCases } from '../../bench/suites/overhead';
import { offlineTokens } from '../../src/offline-model/server';
import { sseEvents } from '../../src/offline-model/sse';
import { dynamicConfigFlags, sqlitePragmaFlags } from '../../src/temporal/dev-server';

/** When each streamed event leaves the offline model, as its server paces them (a delay, then one after each). */
function streamTimeline(text: string, settings: { latencyMs: number; streamChunkDelayMs: number }) {
  const message = { content: [{ type: 'text' as const, text }], usage: { output_tokens: 1 }, stop_reason: 'end_turn' };
  const events = [...sseEvents(message)];
  const deltas = events.flatMap((e, i) => (e.startsWith('event: content_block_delta') ? [i] : []));
  const at = (i: number) => settings.latencyMs + i * settings.streamChunkDelayMs;
  return { firstTextMs: at(deltas[0]!), lastTextMs: at(deltas.at(-1)!) };
}

describe('streaming pace', () => {
  const reply = 'The quarterly report is ready and the numbers look better than expected this time. '.repeat(12);

  it.each([DEFAULT_PACE, { firstTokenMs: 600, tokensPerSecond: 30 }, { firstTokenMs: 300, tokensPerSecond: 100 }])(
    'streams the first text after firstTokenMs and the rest at tokensPerSecond (%o)',
    (pace) => {
      const { firstTextMs, lastTextMs } = streamTimeline(reply, paceSettings(pace));
      const chunkMs = paceSettings(pace).streamChunkDelayMs;
      expect(Math.abs(firstTextMs - pace.firstTokenMs)).toBeLessThanOrEqual(chunkMs / 2 + 1);
      const rate = offlineTokens(reply) / ((lastTextMs - firstTextMs) / 1000);
      expect(rate / pace.tokensPerSecond).toBeGreaterThan(0.9);
      expect(rate / pace.tokensPerSecond).toBeLessThan(1.1);
    },
  );

  it('never asks for a negative delay when the first token comes sooner than the stream’s own events', () => {
    expect(paceSettings({ firstTokenMs: 10, tokensPerSecond: 20 }).latencyMs).toBe(0);
  });

  it('parses BENCH_MODEL_PACE and refuses what it cannot read', () => {
    expect(parsePace(undefined)).toEqual(DEFAULT_PACE);
    expect(parsePace(' 250, 80.5 ')).toEqual({ firstTokenMs: 250, tokensPerSecond: 80.5 });
    for (const bad of ['300', '300,0', 'fast', '-1,50'])
      expect(() => parsePace(bad)).toThrow(/BENCH_MODEL_PACE must be FIRST_TOKEN_MS,TOKENS_PER_SECOND/);
  });
});

describe('think time', () => {
  it('sends only to conversations whose think time has passed, at random among them', () => {
    const clock = {
      lastEnded: new Map([
        ['a', 1_000],
        ['b', 1_500],
        ['c', 2_400],
      ]),
      thinkMs: 1_000,
    };
    expect(pickReady(clock, ['a', 'b', 'c'], 2_600, () => 0)).toEqual({ id: 'a' });
    expect(pickReady(clock, ['a', 'b', 'c'], 2_600, () => 0.99)).toEqual({ id: 'b' });
    expect(pickReady(clock, ['c'], 2_600)).toEqual({ waitMs: 800 });
  });

  it('treats a conversation without a turn yet as ready, and one in flight as not', () => {
    const clock = { lastEnded: new Map([['busy', Infinity]]), thinkMs: 5_000 };
    expect(pickReady(clock, ['busy', 'new'], 0)).toEqual({ id: 'new' });
    expect(pickReady(clock, ['busy'], 0)).toEqual({ waitMs: Infinity });
  });
});

describe('sustained throughput window', () => {
  it('counts only the turns that end inside the window, not the ramp before it or the drain after it', () => {
    const spans = [
      { startMs: 0, endMs: 900 }, // warm-up: ended before the window
      { startMs: 900, endMs: 1_500 }, // started in warm-up, ended inside: counts
      { startMs: 1_500, endMs: 2_500 }, // inside
      { startMs: 2_600, endMs: 3_400 }, // still running at the window's end: drain, left out
      { startMs: 4_000, endMs: 4_200 }, // after the window
    ];
    const w = windowFigures(spans, 1_000, 3_000, 1);
    expect(w.turns).toBe(2);
    expect(w.turnsPerSecond).toBe(1);
    expect(w.meanRoundTripMs).toBe(800);
  });

  it('reports how much of the lanes’ time inside the window was spent in a turn rather than waiting out think time', () => {
    // Two lanes over a 1 s window: one busy throughout, the other busy for a quarter of it.
    const spans = [
      { startMs: 0, endMs: 2_000 },
      { startMs: 1_250, endMs: 1_500 },
    ];
    expect(windowFigures(spans, 1_000, 2_000, 2).laneBusy).toBeCloseTo((1_000 + 250) / 2_000);
  });

  it('refuses a window without length', () => {
    expect(() => windowFigures([], 5, 5, 1)).toThrow(/positive length/);
  });
});

describe('recorded server settings', () => {
  it('records the SQLite pragmas, the dynamic config and PostgreSQL’s durability settings actually passed', () => {
    const settings = describeSettings(
      { storage: 'file-backed', flags: [...sqlitePragmaFlags(), ...dynamicConfigFlags()] },
      { fsync: 'on', synchronous_commit: 'on', full_page_writes: 'on', wal_sync_method: 'fdatasync' },
    );
    expect(settings.temporalSqlitePragmas).toBe('journal_mode=wal synchronous=normal');
    expect(settings.temporalDynamicConfig).toContain('history.transferProcessorMaxPollRPS=1000');
    expect(settings.temporalDynamicConfig).toContain('system.enableActivityEagerExecution=true');
    expect(settings.postgres).toBe('fsync=on synchronous_commit=on full_page_writes=on wal_sync_method=fdatasync');
  });

  it('says when a PostgreSQL setting could not be read rather than leaving it out', () => {
    expect(describeSettings({ storage: 'x', flags: [] }, { fsync: 'off' }).postgres).toContain('synchronous_commit=?');
  });
});

describe('overhead plan', () => {
  const p = { concurrency: [1, 32], turnsPerConversation: [20, 2], conversations: [1, 32], pacedTurns: 4 };

  it('measures both transports at every concurrency and with the paced model, alternating which goes first', () => {
    const first = overheadCases(p, 0);
    const second = overheadCases(p, 1);
    const key = (c: { via: string; concurrency: number; pace: string }) => `${c.via}/${c.concurrency}/${c.pace}`;
    expect(new Set(first.map(key))).toEqual(
      new Set([
        'client/1/instant',
        'http/1/instant',
        'client/32/instant',
        'http/32/instant',
        'client/1/paced',
        'http/1/paced',
      ]),
    );
    expect(new Set(second.map(key))).toEqual(new Set(first.map(key)));
    expect(first[0]!.via).not.toBe(second[0]!.via);
  });
});
