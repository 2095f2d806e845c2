/**
 * The logger's redaction: personal data is redacted from every line, however often it recurs, while strings found
 * clean once (ids, field names, messages) are not scanned again on later lines. Pure computation: a log file only.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../src/log';
import { Redactor, type Redaction } from '../src/privacy/redact';

/** The real redactor, counting the texts it scans. */
class CountingRedactor extends Redactor {
  scanned: string[] = [];
  override redact(text: string): Redaction {
    this.scanned.push(text);
    return super.redact(text);
  }
}

describe('log redaction', () => {
  it('redacts personal data on every line and scans a clean string once', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-log-'));
    const file = path.join(dir, 'memoir.log');
    const redactor = new CountingRedactor({ hashKey: 'k'.repeat(32) });
    const log = createLogger({ level: 'info', file, redactor });
    const fields = { tenantId: 'acme-1', contact: 'jane@example.com', turn: 3 };
    log.info(fields, 'turn stored');
    const firstLine = redactor.scanned.length;
    log.info(fields, 'turn stored');
    // Writes are asynchronous: wait for both lines to reach the file.
    const read = () => fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
    await vi.waitFor(() => expect(read()).toHaveLength(2));
    const lines = read().map((l) => JSON.parse(l) as Record<string, unknown>);
    fs.rmSync(dir, { recursive: true, force: true });
    for (const line of lines) {
      expect(line.contact).toMatch(/^\[email:[0-9a-f]{16}\]$/);
      expect(line).toMatchObject({ tenantId: 'acme-1', turn: 3, msg: 'turn stored' });
    }
    expect(firstLine).toBeGreaterThanOrEqual(5); // three keys, two string values, the message
    // The second line scans only what held personal data.
    expect(redactor.scanned.slice(firstLine)).toEqual(['jane@example.com']);
  });
});
