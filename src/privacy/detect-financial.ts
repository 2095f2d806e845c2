/**
 * Payment cards and IBANs: both carry a check digit, so shape plus checksum plus issuer rules give high precision.
 */
import { IBAN_LENGTHS, ibanValid, luhnValid } from './checksums';
import { digitsOf, scan } from './scan';
import type { Detector } from './types';

interface Brand {
  prefix: RegExp;
  lengths: readonly number[];
}

/**
 * Issuer prefixes (IIN ranges) and the lengths each network issues. The length check is what turns away
 * Luhn-valid look-alikes of other kinds, such as 15-digit IMEIs that start with 35 or 49.
 */
const BRANDS: readonly Brand[] = [
  { prefix: /^4/, lengths: [13, 16, 19] }, // Visa
  { prefix: /^(?:5[1-5]|222[1-9]|22[3-9]\d|2[3-6]\d\d|27[01]\d|2720)/, lengths: [16] }, // Mastercard
  { prefix: /^3[47]/, lengths: [15] }, // American Express
  { prefix: /^(?:6011|64[4-9]|65)/, lengths: [16, 17, 18, 19] }, // Discover
  { prefix: /^(?:30[0-5]|3095|36|3[89])/, lengths: [14, 15, 16, 17, 18, 19] }, // Diners Club
  { prefix: /^35(?:2[89]|[3-8]\d)/, lengths: [16, 17, 18, 19] }, // JCB
  { prefix: /^62/, lengths: [16, 17, 18, 19] }, // UnionPay
  { prefix: /^(?:5018|5020|5038|5893|6304|6759|676[1-3])/, lengths: [13, 14, 15, 16, 17, 18, 19] }, // Maestro
];

/** 13–19 digits, single spaces or dashes allowed between any two; never part of a longer digit run. */
const CARD = /(?<![\w])(?<!\d[ -])\d(?:[ -]?\d){12,18}(?![\w])(?![ -]\d)/g;

/** Groups as cards are printed: fours (the last may be short), or Amex/Diners 4-6-5 and 4-6-4. */
function plausibleGrouping(groups: number[]): boolean {
  if (groups.length === 1) return true;
  if (groups.length === 3 && groups[0] === 4 && groups[1] === 6) return true;
  return groups.every((g, i) => (i === groups.length - 1 ? g >= 1 && g <= 4 : g === 4));
}

export const cardDetector: Detector = {
  type: 'card',
  find: (text) =>
    scan(text, CARD, 'card', (m) => {
      const raw = m[0];
      const separators = new Set(raw.replace(/\d/g, ''));
      if (separators.size > 1) return false;
      if (!plausibleGrouping(raw.split(/[ -]/).map((g) => g.length))) return false;
      const digits = digitsOf(raw);
      const known = BRANDS.some((b) => b.prefix.test(digits) && b.lengths.includes(digits.length));
      return known && luhnValid(digits);
    }),
};

/**
 * Compact (`DE89370400440532013000`) or in the printed groups of four. The two forms are separate alternatives so
 * that no digit run can be split into groups in more than one way (which is what makes naive IBAN patterns blow up).
 */
const IBAN =
  /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)(?![A-Za-z0-9])/g;

export const ibanDetector: Detector = {
  type: 'iban',
  find: (text) =>
    scan(text, IBAN, 'iban', (m) => {
      const raw = m[0];
      const expected = IBAN_LENGTHS[raw.slice(0, 2)];
      if (expected === undefined) return false;
      if (!raw.includes(' ')) return ibanValid(raw);
      // Printed form: a following word of four capitals can be swallowed as one more group, so cut back to the
      // country's length — but only where a group ends, or the cut would invent an IBAN from two half-numbers.
      let compactLength = 0;
      for (let i = 0; i < raw.length; i++) {
        if (raw[i] === ' ') continue;
        compactLength++;
        if (compactLength !== expected) continue;
        const end = i + 1;
        if (end < raw.length && raw[end] !== ' ') return false;
        return ibanValid(raw.slice(0, end).replace(/ /g, '')) && { start: m.index, end: m.index + end };
      }
      return false;
    }),
};
