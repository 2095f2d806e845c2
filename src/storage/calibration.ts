/**
 * Token calibration kept across restarts: each model's running ratio of reported to estimated prompt tokens.
 */
import type { Db } from './db';

export class CalibrationStore {
  constructor(private readonly db: Db) {}

  async load(): Promise<Record<string, number>> {
    const rows = await this.db.query<{ model: string; ratio: number }>('SELECT model, ratio FROM token_calibration');
    return Object.fromEntries(rows.map((r) => [r.model, r.ratio]));
  }

  async save(model: string, ratio: number, samples: number): Promise<void> {
    await this.db.query(
      `INSERT INTO token_calibration (model, ratio, samples) VALUES ($1, $2, $3)
       ON CONFLICT (model) DO UPDATE SET ratio = EXCLUDED.ratio, samples = token_calibration.samples + EXCLUDED.samples,
         updated_at = now()`,
      [model, ratio, samples],
    );
  }
}
