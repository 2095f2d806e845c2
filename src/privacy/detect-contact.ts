/**
 * Email addresses and telephone numbers. Phones have no checksum, so the detector leans on shape (international
 * `+CC` numbers, North American and European national layouts with separators) and on context: a number right
 * after "order", "invoice", "tracking", ... is an identifier of a thing, not of a person.
 */
import { digitsOf, precededBy, scan } from './scan';
import type { Detector, Span } from './types';

/**
 * Local part (an apostrophe allowed inside, as in `o'neil@`), `@`, one to eight domain labels, an alphabetic TLD.
 * Labels are delimited by dots, so each is matched one way only.
 */
const EMAIL =
  /(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+'-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![\w-])/g;

/** "TLDs" that are really file extensions: `icon@2x.png` is an asset name, not an address. */
const FILE_EXTENSIONS = new Set(['png', 'jpg', 'jpeg', 'gif', 'svg', 'webp', 'ico', 'css', 'js', 'ts', 'json', 'map']);

export const emailDetector: Detector = {
  type: 'email',
  find: (text) =>
    scan(text, EMAIL, 'email', (m) => {
      const at = m[0].indexOf('@');
      const local = m[0].slice(0, at);
      const tld = m[0].slice(m[0].lastIndexOf('.') + 1).toLowerCase();
      return !local.endsWith('.') && !local.includes('..') && !FILE_EXTENSIONS.has(tld);
    }),
};

/**
 * `+44 20 7946 0958`, `+1 (202) 555-0143`, `+44 (0)20 7946 0958`, `+33 1 23 45 67 89`, `+12025550143`. Only the
 * group after the country code may be a single digit, so "call +44 20 7946 0958 between 9 and 5" stops at 0958.
 */
const PHONE_INTL =
  /(?<![\w+])\+(?:\d{8,15}|\d{1,4}(?:[ .-]?\(\d{1,4}\)[ .-]?\d{1,6}|[ .-]\d{1,6})?(?:[ .-]\d{2,8}){0,6})(?![\w])(?![./-]\d)/g;
/** `(202) 555-0143`, `202-555-0143`, `202.555.0143`, `1-800-555-0199`. */
const PHONE_NANP = /(?<![\w+.\/-])(?:1[ .-])?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w])(?![.\/-]\d)/g;
/** Trunk-prefixed European numbers: `020 7946 0958`, `07700 900123`, `01 23 45 67 89`, `(030) 1234567`. */
const PHONE_TRUNK = /(?<![\w+.\/-])(?:\(0\d{1,4}\) ?|0\d{1,4}[ .-])\d{2,8}(?:[ .-]\d{2,8}){0,3}(?![\w])(?![.\/-]\d)/g;

/** Labels after which a number identifies a thing, not a person. */
const NOT_A_PHONE =
  /(?:\b(?:order|invoice|inv|ref|reference|ticket|tracking|case|sku|serial|part|po|isbn|confirmation|booking|transaction|txn|receipt|account|acct|id)\b\.?\s*(?:no\.?|number|num|id|#)?\s*[:#=]?\s*|#\s*)$/i;

/**
 * A number continuing a code is part of that code: `1Z 999 AA1 01 2345 6784` (a tracking number) ends in a
 * phone-shaped run after a letters-and-digits group, `NL45 RABO 0123 4567 89` (a mistyped IBAN) after an IBAN head.
 */
const INSIDE_A_CODE = /(?:\b(?=[A-Za-z]*\d)(?=\d*[A-Za-z])[A-Za-z0-9]+|\b[A-Z]{2}\d{2}(?: [A-Z0-9]{4}){0,7}) $/;

/** `05-06-2024 10`: a date (either order) followed by more digits is not a phone number. */
function startsWithDate(s: string): boolean {
  const m = /^(\d{1,4})[ ./-](\d{1,2})[ ./-](\d{1,4})\b/.exec(s);
  if (!m) return false;
  const [a, b, c] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const dayMonth = (x: number, y: number): boolean => x >= 1 && x <= 31 && y >= 1 && y <= 12;
  if (m[1]?.length === 4) return a >= 1900 && a <= 2100 && b >= 1 && b <= 12 && c >= 1 && c <= 31;
  return m[3]?.length === 4 && (dayMonth(a, b) || dayMonth(b, a));
}

function findPhones(text: string): Span[] {
  const labelled = (index: number): boolean =>
    precededBy(text, index, NOT_A_PHONE) || precededBy(text, index, INSIDE_A_CODE, 48);
  return [
    ...scan(text, PHONE_INTL, 'phone', (m) => {
      // A "(0)" is the trunk prefix printed for domestic callers; E.164 allows 15 digits without it.
      const n = digitsOf(m[0].replace('(0)', '')).length;
      return n >= 9 && n <= 15 && !labelled(m.index);
    }),
    ...scan(text, PHONE_NANP, 'phone', (m) => {
      // North American area codes and exchanges never start with 0 or 1.
      const ten = digitsOf(m[0]).slice(-10);
      return /^[2-9]\d\d[2-9]/.test(ten) && !labelled(m.index);
    }),
    ...scan(text, PHONE_TRUNK, 'phone', (m) => {
      const n = digitsOf(m[0]).length;
      return n >= 10 && n <= 11 && !startsWithDate(m[0]) && !labelled(m.index);
    }),
  ];
}

export const phoneDetector: Detector = { type: 'phone', find: findPhones };
