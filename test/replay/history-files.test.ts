/**
 * History files: what `memoir history export` writes reads back as the same history, and the variants other tools
 * write (enum values in PascalCase, as tctl and older UIs wrote them) read the same too.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { historyJson, readHistoryFile } from '../../src/replay/history';
import { HISTORIES_DIR } from './histories';

const file = path.join(HISTORIES_DIR, 'fallback.json');

describe('history files', () => {
  it('round-trips: read, write, read gives the same JSON', () => {
    const history = readHistoryFile(file);
    expect(JSON.parse(historyJson(history))).toEqual(JSON.parse(fs.readFileSync(file, 'utf8')));
  });

  it('reads enum values written in PascalCase', () => {
    const text = fs
      .readFileSync(file, 'utf8')
      .replace(/"EVENT_TYPE_([A-Z_]+)"/g, (_m, name: string) =>
        JSON.stringify(name.toLowerCase().replace(/(^|_)([a-z])/g, (_x, _s: string, c: string) => c.toUpperCase())),
      );
    expect(text).toContain('"eventType": "WorkflowExecutionStarted"');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-history-'));
    try {
      fs.writeFileSync(path.join(dir, 'h.json'), text);
      expect(historyJson(readHistoryFile(path.join(dir, 'h.json')))).toEqual(historyJson(readHistoryFile(file)));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says which file is not a history', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-history-'));
    try {
      fs.writeFileSync(path.join(dir, 'x.json'), '{"hello": 1}');
      expect(() => readHistoryFile(path.join(dir, 'x.json'))).toThrow(/x\.json: not a workflow history/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
