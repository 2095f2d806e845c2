/**
 * Failure messages and stack traces are encrypted too when the failure converter encodes them, so an error that
 * quotes a user's words leaves no plaintext in a history.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure, defaultPayloadConverter, type SerializationContext } from '@temporalio/common';
import { decodeFailure, encodeFailure } from '@temporalio/common/lib/internal-non-workflow';
import { temporal } from '@temporalio/proto';
import {
  DataKeyStore,
  EncryptionCodec,
  FAILURE_CONVERTER_PATH,
  generateMasterKey,
  parseMasterKeys,
} from '../../src/codec';
import { failureConverter } from '../../src/codec/failure-converter';
import { openPglite, type Db } from '../../src/storage/db';
import { migrate } from '../../src/storage/migrate';

let db: Db;
let dir: string;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-failure-'));
  db = await openPglite(path.join(dir, 'pglite'));
  await migrate(db);
});
afterAll(async () => {
  await db?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

it('encrypts failure messages and stack traces, and restores them on decode', async () => {
  const codec = new EncryptionCodec({ keys: new DataKeyStore(db, parseMasterKeys(`m:${generateMasterKey()}`)) });
  const context: SerializationContext = { type: 'workflow', namespace: 'default', workflowId: 'conversation/t1/c1' };
  const error = ApplicationFailure.create({ message: 'could not parse "my PIN is 4242"', type: 'BadInput' });

  const failure = failureConverter.errorToFailure(error, defaultPayloadConverter, context);
  const encoded = await encodeFailure([codec], failure, context);
  const wire = Buffer.from(temporal.api.failure.v1.Failure.encode(encoded).finish());
  expect(wire.includes('4242')).toBe(false);
  expect(wire.includes('t/t1@1')).toBe(true);

  const decoded = failureConverter.failureToError(await decodeFailure([codec], encoded), defaultPayloadConverter);
  expect(decoded).toBeInstanceOf(ApplicationFailure);
  expect(decoded.message).toBe('could not parse "my PIN is 4242"');
  expect((decoded as ApplicationFailure).type).toBe('BadInput');
  expect(fs.existsSync(FAILURE_CONVERTER_PATH)).toBe(true);
});
