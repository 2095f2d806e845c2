/**
 * IP addresses. IPv4 needs four in-range octets standing alone, so version strings (`1.2.3`, `10.0`, `1.2.3.4.5`)
 * and OIDs do not qualify; a four-part number right after "version" or "build" is taken to be a version too.
 * IPv6 candidates are runs of hex digits, colons and dots, validated by Node's own parser.
 */
import { isIPv6 } from 'node:net';
import { precededBy, scan } from './scan';
import type { Detector, Span } from './types';

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`(?<![\\w.])${OCTET}(?:\\.${OCTET}){3}(?![\\w])(?!\\.\\d)`, 'g');
const VERSION_LABEL = /\b(?:v|ver|version|release|build|firmware|rev|revision)\.?\s*[:=]?\s*$/i;

/** Up to 45 characters: the longest textual IPv6 address (with an embedded IPv4 tail). */
const IPV6_RUN = /(?<![\w:.])[0-9A-Fa-f:][0-9A-Fa-f:.]{1,44}(?![\w:.])/g;

/** The address in an IPv6 candidate run: sentence punctuation trimmed, then Node's parser decides. */
function ipv6Span(run: string): number | undefined {
  // Most runs are plain numbers; skip the parser unless there are at least two colons.
  if (run.indexOf(':') === run.lastIndexOf(':')) return undefined;
  for (const candidate of [run, run.replace(/\.+$/, ''), run.replace(/(?<!:):$/, '')]) {
    const colons = candidate.split(':').length - 1;
    if (colons >= 2 && /[0-9A-Fa-f]/.test(candidate) && isIPv6(candidate)) return candidate.length;
  }
  return undefined;
}

function findIps(text: string): Span[] {
  return [
    ...scan(text, IPV4, 'ip', (m) => !precededBy(text, m.index, VERSION_LABEL, 16)),
    ...scan(text, IPV6_RUN, 'ip', (m) => {
      const length = ipv6Span(m[0]);
      return length !== undefined && { start: m.index, end: m.index + length };
    }),
  ];
}

export const ipDetector: Detector = { type: 'ip', find: findIps };
