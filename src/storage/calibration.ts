/**
 * Token calibration kept across restarts: each model's running ratio of reported to estimated prompt tokens.
 */
import { ASYNC_COMMIT, type Db } from './db';

export class CalibrationStore {
  constructor(private readonly db: Db) {}

  async load(): Promise<Record<string, number>> {
    const rows = await this.db.query<{ model: string; ratio: number }>('SELECT model, ratio FROM token_calibration');
    return Object.fromEntries(rows.map((r) => [r.model, r.ratio]));
  }

  async save(model: string, ratio: number, samples: number): Promise<void> {
    // A learned ratio: losing the last update to a crash costs nothing, so it never waits for a WAL flush.
    await this.db.query(
      `INSERT INTO token_calibration (model, ratio, samples)
       SELECT $1::text, $2::float8, $3::int FROM ${ASYNC_COMMIT}
       ON CONFLICT (model) DO UPDATE SET ratio = EXCLUDED.ratio, samples = token_calibration.samples + EXCLUDED.samples,
         updated_at = now()`,
      [model, ratio, samples],
    );
  }
}
