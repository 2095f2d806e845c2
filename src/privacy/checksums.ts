/**
 * Check digits and allocation rules that separate real identifiers from numbers of the same shape. A detector
 * that matches shape alone flags every order id and tracking number; these checks are where precision comes from.
 */

/** Luhn (mod 10) over a string of digits, as used by payment cards and IMEIs. */
export function luhnValid(digits: string): boolean {
  if (!/^\d{2,}$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/**
 * IBAN length per country, from the SWIFT IBAN registry (cross-checked against IbanNet's table). A country not
 * listed does not issue IBANs, so its look-alikes are rejected.
 */
// prettier-ignore
export const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28, CH: 21, CR: 22,
  CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FK: 18, FO: 18, FR: 27, GB: 22,
  GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HN: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30,
  KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20, LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20,
  MR: 27, MT: 31, MU: 30, NI: 28, NL: 18, NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22,
  RU: 33, SA: 24, SC: 31, SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26,
  UA: 29, VA: 22, VG: 24, XK: 20, YE: 30,
};

/**
 * ISO 7064 MOD 97-10 remainder of an IBAN (compact, upper case): the first four characters moved to the end,
 * letters as 10–35. A valid IBAN leaves 1. Computed digit by digit because the number has up to 70 digits.
 */
export function ibanMod97(compact: string): number {
  const rearranged = compact.slice(4) + compact.slice(0, 4);
  let rem = 0;
  for (const ch of rearranged) {
    const code = ch.charCodeAt(0);
    if (code >= 48 && code <= 57) rem = (rem * 10 + code - 48) % 97;
    else if (code >= 65 && code <= 90) rem = (rem * 100 + code - 55) % 97;
    else return -1;
  }
  return rem;
}

/** A compact upper-case IBAN of its country's registered length whose check digits hold. */
export function ibanValid(compact: string): boolean {
  const expected = IBAN_LENGTHS[compact.slice(0, 2)];
  return expected === compact.length && /^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(compact) && ibanMod97(compact) === 1;
}

/**
 * A US Social Security number the SSA could have issued: area not 000, 666 or 900–999; group not 00; serial not
 * 0000. (Since 2011 numbers are randomised, so no finer area table applies.)
 */
export function ssnValid(area: string, group: string, serial: string): boolean {
  const a = Number(area);
  return (
    /^\d{3}$/.test(area) &&
    /^\d{2}$/.test(group) &&
    /^\d{4}$/.test(serial) &&
    a !== 0 &&
    a !== 666 &&
    a < 900 &&
    group !== '00' &&
    serial !== '0000'
  );
}

/**
 * Prefixes HMRC never allocates for a UK National Insurance number (beyond the letters the pattern already
 * excludes: D, F, I, Q, U, V anywhere, O second).
 */
const NINO_BAD_PREFIXES = new Set(['BG', 'GB', 'KN', 'NK', 'NT', 'TN', 'ZZ']);

/** A UK National Insurance number, compact and upper case: two letters, six digits, a suffix A–D. */
export function ninoValid(compact: string): boolean {
  return /^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]$/.test(compact) && !NINO_BAD_PREFIXES.has(compact.slice(0, 2));
}

const DNI_LETTERS = 'TRWAGMYFPDXBNJZSQVHLCKE';

/**
 * A Spanish DNI (`12345678Z`) or NIE (`X1234567L`), compact and upper case: the letter is the number mod 23 looked
 * up in a fixed table; an NIE's leading X, Y or Z stands for 0, 1 or 2.
 */
export function dniValid(compact: string): boolean {
  const m = /^([XYZ]\d{7}|\d{8})([A-Z])$/.exec(compact);
  if (!m?.[1] || !m[2]) return false;
  const number = Number(m[1].replace(/^[XYZ]/, (c) => String('XYZ'.indexOf(c))));
  return DNI_LETTERS[number % 23] === m[2];
}
