/**
 * National identity numbers: US Social Security numbers, UK National Insurance numbers, Spanish DNI/NIE.
 * All three report as `national_id`; audit tells them apart by shape if it needs to.
 */
import { dniValid, ninoValid, ssnValid } from './checksums';
import { precededBy, scan } from './scan';
import type { Detector, Span } from './types';

/** `123-45-6789`: the dashed form is distinctive enough to stand alone. */
const SSN_DASHED = /(?<![\w-])(\d{3})-(\d{2})-(\d{4})(?![\w-])/g;
/** `123 45 6789` or `123456789`: nine digits are everywhere, so these count only right after a label. */
const SSN_BARE = /(?<![\w-])(\d{3})( ?)(\d{2})\2(\d{4})(?![\w-])/g;
const SSN_LABEL = /\b(?:ssn|ss#|social security(?: number| no\.?| #)?)\s*(?:is|was|:|=|#)?\s*$/i;

/** `AB123456C` or `AB 12 34 56 C` (the spacing on HMRC letters); letters the scheme never uses are excluded. */
const NINO = /(?<![A-Za-z0-9])([A-Z]{2})( ?)(\d{2})\2(\d{2})\2(\d{2})\2([A-D])(?![A-Za-z0-9])/g;

/** DNI `12345678Z` / NIE `X1234567L`, optionally with a dash before the letter. */
const DNI = /(?<![A-Za-z0-9])([XYZ]-?\d{7}|\d{8})-?([A-Z])(?![A-Za-z0-9])/g;

function findNationalIds(text: string): Span[] {
  return [
    ...scan(text, SSN_DASHED, 'national_id', (m) => ssnValid(m[1] ?? '', m[2] ?? '', m[3] ?? '')),
    ...scan(
      text,
      SSN_BARE,
      'national_id',
      (m) => ssnValid(m[1] ?? '', m[3] ?? '', m[4] ?? '') && precededBy(text, m.index, SSN_LABEL),
    ),
    ...scan(text, NINO, 'national_id', (m) => ninoValid(m[0].replace(/ /g, ''))),
    ...scan(text, DNI, 'national_id', (m) => dniValid(m[0].replace(/-/g, ''))),
  ];
}

export const nationalIdDetector: Detector = { type: 'national_id', find: findNationalIds };
