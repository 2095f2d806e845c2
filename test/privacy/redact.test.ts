/**
 * The PII redactor against a labelled corpus (positives and look-alike negatives per type), plus the checks behind
 * each detector, the audit hash, hostile input and the log helper. Pure computation: no services are touched.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { dniValid, ibanMod97, ibanValid, luhnValid, ninoValid, ssnValid } from '../../src/privacy/detectors';
import {
  appliesTo,
  PII_TYPES,
  piiTypeSchema,
  redactLogValue,
  Redactor,
  REDACT_POLICIES,
  type PiiType,
} from '../../src/privacy/redact';

const corpusSchema = z.array(
  z.object({
    text: z.string(),
    expect: z.array(z.object({ type: piiTypeSchema, value: z.string().min(1) })),
    note: z.string().optional(),
  }),
);
const corpus = corpusSchema.parse(JSON.parse(fs.readFileSync(path.join(__dirname, 'redaction-corpus.json'), 'utf8')));

const redactor = new Redactor({ hashKey: 'test-audit-key' });

interface Counts {
  tp: number;
  fp: number;
  fn: number;
}

/** A finding is a true positive when an expected entry has the same type and exactly the same text. */
function score(): { perType: Map<PiiType, Counts>; misses: string[] } {
  const perType = new Map<PiiType, Counts>(PII_TYPES.map((t) => [t, { tp: 0, fp: 0, fn: 0 }]));
  const misses: string[] = [];
  for (const entry of corpus) {
    const wanted = entry.expect.map((e) => `${e.type}\u0000${e.value}`);
    for (const f of redactor.find(entry.text)) {
      const key = `${f.type}\u0000${entry.text.slice(f.start, f.end)}`;
      const at = wanted.indexOf(key);
      if (at >= 0) {
        wanted.splice(at, 1);
        perType.get(f.type)!.tp++;
      } else {
        perType.get(f.type)!.fp++;
        misses.push(
          `FP ${f.type} ${JSON.stringify(entry.text.slice(f.start, f.end))} in ${JSON.stringify(entry.text)}`,
        );
      }
    }
    for (const key of wanted) {
      const [type, value] = key.split('\u0000') as [PiiType, string];
      perType.get(type)!.fn++;
      misses.push(`FN ${type} ${JSON.stringify(value)} in ${JSON.stringify(entry.text)}`);
    }
  }
  return { perType, misses };
}

const ratio = (num: number, den: number): number => (den === 0 ? 1 : num / den);

describe('redaction corpus', () => {
  it('is well formed: enough entries, every expected value occurs in its text', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(150);
    for (const type of PII_TYPES) {
      expect(corpus.filter((e) => e.expect.some((x) => x.type === type)).length, type).toBeGreaterThanOrEqual(8);
    }
    expect(corpus.filter((e) => e.expect.length === 0).length).toBeGreaterThanOrEqual(50);
    for (const entry of corpus) for (const x of entry.expect) expect(entry.text).toContain(x.value);
  });

  it('reaches precision and recall of at least 0.95 overall and recall of 0.9 per type', () => {
    const { perType, misses } = score();
    const total: Counts = { tp: 0, fp: 0, fn: 0 };
    const rows = [...perType].map(([type, c]) => {
      total.tp += c.tp;
      total.fp += c.fp;
      total.fn += c.fn;
      return { type, ...c, precision: ratio(c.tp, c.tp + c.fp), recall: ratio(c.tp, c.tp + c.fn) };
    });
    const overall = {
      type: 'overall',
      ...total,
      precision: ratio(total.tp, total.tp + total.fp),
      recall: ratio(total.tp, total.tp + total.fn),
    };
    const line = (r: typeof overall): string =>
      `${r.type.padEnd(13)} ${String(r.tp).padStart(4)} ${String(r.fp).padStart(4)} ${String(r.fn).padStart(4)}` +
      `  ${r.precision.toFixed(3).padStart(9)}  ${r.recall.toFixed(3).padStart(6)}`;
    console.log(
      [
        `redaction corpus: ${corpus.length} entries`,
        `${'type'.padEnd(13)} ${'tp'.padStart(4)} ${'fp'.padStart(4)} ${'fn'.padStart(4)}  precision  recall`,
        ...rows.map(line),
        line(overall),
        ...misses,
      ].join('\n'),
    );

    expect(overall.precision).toBeGreaterThanOrEqual(0.95);
    expect(overall.recall).toBeGreaterThanOrEqual(0.95);
    for (const r of rows) expect(r.recall, `${r.type} recall`).toBeGreaterThanOrEqual(0.9);
  });

  it('leaves every negative entry untouched, byte for byte', () => {
    for (const entry of corpus.filter((e) => e.expect.length === 0)) {
      expect(redactor.redact(entry.text).text).toBe(entry.text);
    }
  });
});

describe('checksums', () => {
  it('Luhn accepts test card numbers and rejects a changed digit', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('79927398713')).toBe(true);
    expect(luhnValid('378282246310005')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
    expect(luhnValid('79927398710')).toBe(false);
    expect(luhnValid('4111 1111')).toBe(false);
  });

  it('IBAN mod-97 leaves 1 for valid numbers and checks the country length', () => {
    expect(ibanMod97('GB82WEST12345698765432')).toBe(1);
    expect(ibanMod97('DE89370400440532013000')).toBe(1);
    expect(ibanMod97('DE88370400440532013000')).not.toBe(1);
    expect(ibanValid('NL91ABNA0417164300')).toBe(true);
    expect(ibanValid('NL91ABNA041716430')).toBe(false);
    expect(ibanValid('XX89370400440532013000')).toBe(false);
  });

  it('SSN rejects area 000, 666 and 9xx, group 00 and serial 0000', () => {
    expect(ssnValid('123', '45', '6789')).toBe(true);
    expect(ssnValid('899', '99', '9999')).toBe(true);
    for (const [a, g, s] of [
      ['000', '45', '6789'],
      ['666', '45', '6789'],
      ['900', '45', '6789'],
      ['999', '45', '6789'],
      ['123', '00', '6789'],
      ['123', '45', '0000'],
    ] as const) {
      expect(ssnValid(a, g, s), `${a}-${g}-${s}`).toBe(false);
    }
  });

  it('UK NI numbers and Spanish DNI/NIE follow their allocation and check-letter rules', () => {
    expect(ninoValid('AB123456C')).toBe(true);
    expect(ninoValid('QQ123456C')).toBe(false);
    expect(ninoValid('GB123456A')).toBe(false);
    expect(ninoValid('AB123456E')).toBe(false);
    expect(dniValid('12345678Z')).toBe(true);
    expect(dniValid('12345678A')).toBe(false);
    expect(dniValid('X1234567L')).toBe(true);
    expect(dniValid('Z1234567R')).toBe(true);
    expect(dniValid('X1234567A')).toBe(false);
  });
});

describe('Redactor', () => {
  it('replaces each value with a [type:hash] placeholder and keeps the rest of the text', () => {
    const { text, findings } = redactor.redact('Mail jane@example.com or call +44 20 7946 0958 — ok?');
    expect(text).toMatch(/^Mail \[email:[0-9a-f]{16}\] or call \[phone:[0-9a-f]{16}\] — ok\?$/);
    expect(findings.map((f) => f.type)).toEqual(['email', 'phone']);
    expect(findings[0]).not.toHaveProperty('value');
  });

  it('hashes stably under one key, differently under another, and canonicalises formatting', () => {
    const again = new Redactor({ hashKey: Buffer.from('test-audit-key') });
    const other = new Redactor({ hashKey: 'another-key' });
    const value = 'card 4111 1111 1111 1111';
    const hash = redactor.find(value)[0]!.hash;
    expect(hash).toMatch(/^[0-9a-f]{16}$/);
    expect(redactor.find(value)[0]!.hash).toBe(hash);
    expect(again.find(value)[0]!.hash).toBe(hash);
    expect(other.find(value)[0]!.hash).not.toBe(hash);
    expect(redactor.find('card 4111-1111-1111-1111')[0]!.hash).toBe(hash);
    expect(redactor.find('card 4012888888881881')[0]!.hash).not.toBe(hash);
  });

  it('leaves text without PII untouched, including non-ASCII text', () => {
    for (const text of ['', 'plain words', 'naïve café — 日本語 🎉 v1.2.3 at 10:30 on 2024-05-02', ' \n\t ']) {
      expect(redactor.redact(text)).toEqual({ text, findings: [] });
    }
  });

  it('resolves overlaps in favour of the longer match', () => {
    const text = 'write to 4111111111111111@example.com';
    expect(redactor.find(text).map((f) => [f.type, text.slice(f.start, f.end)])).toEqual([
      ['email', '4111111111111111@example.com'],
    ]);
  });

  it('detects only the configured types', () => {
    const onlyEmail = new Redactor({ hashKey: 'k', types: ['email'] });
    const text = 'a@example.com 4111 1111 1111 1111';
    expect(onlyEmail.find(text).map((f) => f.type)).toEqual(['email']);
  });

  it('refuses an empty hash key', () => {
    expect(() => new Redactor({ hashKey: '' })).toThrow(/hashKey/);
    expect(() => new Redactor({ hashKey: Buffer.alloc(0) })).toThrow(/hashKey/);
  });

  it('gets through 1 MB of hostile input', () => {
    const MB = 1 << 20;
    const hostile = [
      'a@'.repeat(MB / 2),
      'a'.repeat(MB),
      'a.'.repeat(MB / 2),
      `x@${'a.'.repeat(MB / 2 - 2)}`,
      '1'.repeat(MB),
      '1 '.repeat(MB / 2),
      '1-'.repeat(MB / 2),
      '1.'.repeat(MB / 2),
      '+1 '.repeat(MB / 3),
      '0'.repeat(MB),
      'f:'.repeat(MB / 2),
      ':'.repeat(MB),
      'AB12 '.repeat(MB / 5),
      'Bearer '.repeat(MB / 7),
      `Bearer ${'a1'.repeat(MB / 2 - 4)}`,
      `eyJ${'a'.repeat(MB / 2)}.eyJ${'b'.repeat(MB / 2 - 8)}`,
      'sk-'.repeat(MB / 3),
      '4111 1111 1111 1111 '.repeat(MB / 20),
    ];
    for (const text of hostile) {
      const { text: out, findings } = redactor.redact(text);
      expect(typeof out).toBe('string');
      expect(Array.isArray(findings)).toBe(true);
    }
    expect(redactor.find('4111 1111 1111 1111 '.repeat(1000))).toHaveLength(0);
  });
});

describe('redactLogValue', () => {
  it('redacts strings and keys at any depth and leaves numbers, booleans and null alone', () => {
    const when = new Date(0);
    const out = redactLogValue(
      {
        msg: 'login by jane@example.com',
        attempts: 3,
        ok: true,
        missing: null,
        when,
        user: { contact: { phone: '+44 20 7946 0958', tags: ['vip', 'ip 10.0.0.1'] } },
        'bob@example.com': 1,
      },
      redactor,
    ) as Record<string, any>;
    expect(out.msg).toMatch(/^login by \[email:[0-9a-f]{16}\]$/);
    expect(out.attempts).toBe(3);
    expect(out.ok).toBe(true);
    expect(out.missing).toBeNull();
    expect(out.when).toBe(when);
    expect(out.user.contact.phone).toMatch(/^\[phone:[0-9a-f]{16}\]$/);
    expect(out.user.contact.tags).toEqual(['vip', expect.stringMatching(/^ip \[ip:[0-9a-f]{16}\]$/)]);
    expect(Object.keys(out).some((k) => k.includes('bob@example.com'))).toBe(false);
  });

  it('serialises errors and URLs redacted, and cuts cycles and excessive depth', () => {
    const err = new Error('card 4111 1111 1111 1111 declined');
    const cyclic: Record<string, unknown> = { note: 'x' };
    cyclic.self = cyclic;
    let deep: Record<string, unknown> = { secret: 'a@example.com' };
    for (let i = 0; i < 20; i++) deep = { deep };
    const out = redactLogValue(
      { err, url: new URL('https://example.com/?email=a@example.com'), cyclic, deep },
      redactor,
    ) as Record<string, any>;
    expect(out.err.type).toBe('Error');
    expect(out.err.message).toMatch(/^card \[card:[0-9a-f]{16}\] declined$/);
    expect(out.err.stack).not.toContain('4111');
    expect(out.url).not.toContain('a@example.com');
    expect(out.cyclic.self).toBe('[Circular]');
    expect(JSON.stringify(out.deep)).toContain('[Truncated]');
    expect(JSON.stringify(out.deep)).not.toContain('a@example.com');
  });

  it('passes primitives through', () => {
    expect(redactLogValue(42, redactor)).toBe(42);
    expect(redactLogValue(false, redactor)).toBe(false);
    expect(redactLogValue(undefined, redactor)).toBeUndefined();
    expect(redactLogValue('10.0.0.1', redactor)).toMatch(/^\[ip:[0-9a-f]{16}\]$/);
  });
});

describe('redaction policy', () => {
  it('is cumulative: each level redacts everything the previous one did', () => {
    const table = REDACT_POLICIES.map((p) => [p, appliesTo(p, 'index'), appliesTo(p, 'store'), appliesTo(p, 'model')]);
    expect(table).toEqual([
      ['off', false, false, false],
      ['index', true, false, false],
      ['store', true, true, false],
      ['model', true, true, true],
    ]);
  });
});
