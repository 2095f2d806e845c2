/**
 * Credentials: provider API keys recognised by their documented prefixes, keys assigned to an obviously named
 * setting, `Bearer` tokens and JWTs. Only prefixed or labelled strings count — a bare hex digest or UUID is not a
 * secret by shape, and flagging every one would drown the real findings.
 */
import { scan, type Verdict } from './scan';
import type { Detector, Span } from './types';

/** Mixed letters and digits: what generated keys look like and hyphenated prose (`sk-learn-...`) does not. */
function looksGenerated(s: string): boolean {
  return /\d/.test(s) && /[A-Za-z]/.test(s);
}

const PREFIXED_KEYS: ReadonlyArray<{ re: RegExp; accept?: (m: RegExpExecArray) => Verdict }> = [
  // Anthropic: sk-ant-api03-..., sk-ant-admin01-...
  { re: /(?<![\w-])sk-ant-[A-Za-z0-9_-]{20,300}(?![\w-])/g },
  // OpenAI-style: sk-..., sk-proj-...; the generic prefix needs the mixed-case-and-digit look of a real key.
  {
    re: /(?<![\w-])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,300}(?![\w-])/g,
    accept: (m) => looksGenerated(m[0].slice(3)) && /[a-z]/.test(m[0].slice(3)) && /[A-Z]/.test(m[0]),
  },
  // AWS access key ids.
  { re: /(?<![\w])(?:AKIA|ASIA)[0-9A-Z]{16}(?![\w])/g },
  // GitHub tokens: classic (ghp_, gho_, ghu_, ghs_, ghr_) and fine-grained.
  { re: /(?<![\w])gh[pousr]_[A-Za-z0-9]{36,251}(?![\w])/g },
  { re: /(?<![\w])github_pat_[A-Za-z0-9_]{22,255}(?![\w])/g },
  // Slack bot, user, app and refresh tokens.
  { re: /(?<![\w-])xox[abposr]-[A-Za-z0-9-]{10,250}(?![\w-])/g, accept: (m) => looksGenerated(m[0].slice(5)) },
  // Stripe secret and restricted keys.
  { re: /(?<![\w])(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,247}(?![\w])/g },
  // Google API keys.
  { re: /(?<![\w-])AIza[0-9A-Za-z_-]{35}(?![\w-])/g },
];

/** `api_key = "..."`, `"client_secret": "..."`: the value is the secret whatever its shape. */
const ASSIGNED =
  /(?<![A-Za-z0-9])(?:api[_-]?key|api[_-]?secret|secret[_-]?key|client[_-]?secret|access[_-]?token|auth[_-]?token|private[_-]?key)["']?[ \t]{0,3}[:=][ \t]{0,3}["']?([A-Za-z0-9_\-.+/=]{16,256})(?![A-Za-z0-9_\-.+/=])/dgi;

function findApiKeys(text: string): Span[] {
  const spans = PREFIXED_KEYS.flatMap(({ re, accept }) => scan(text, re, 'api_key', accept ?? (() => true)));
  spans.push(
    ...scan(text, ASSIGNED, 'api_key', (m) => {
      const at = m.indices?.[1];
      return !!at && looksGenerated(m[1] ?? '') && { start: at[0], end: at[1] };
    }),
  );
  return spans;
}

/** `Bearer <token>` in headers, curl lines and prose; the span is the token, so the text still reads naturally. */
const BEARER = /(?<![\w])[Bb]earer[ \t]{1,4}([\w.~+/-]{16,4096}=*)(?![\w~+/=-])/dg;
/** JWTs anywhere: a base64url JSON header and payload (both start `eyJ`, i.e. `{"`), then a signature. */
const JWT = /(?<![\w-])eyJ[A-Za-z0-9_-]{8,4096}\.eyJ[A-Za-z0-9_-]{8,8192}\.[A-Za-z0-9_-]{0,4096}(?![\w-])/g;

function findBearerTokens(text: string): Span[] {
  return [
    ...scan(text, BEARER, 'bearer_token', (m) => {
      const at = m.indices?.[1];
      if (!at) return false;
      // A token at the end of a sentence keeps its full stop outside the span.
      const token = (m[1] ?? '').replace(/\.+$/, '');
      const opaque = /\d/.test(token) || (/[a-z]/.test(token) && /[A-Z]/.test(token) && token.length >= 24);
      return token.length >= 16 && opaque && { start: at[0], end: at[0] + token.length };
    }),
    ...scan(text, JWT, 'bearer_token', () => true),
  ];
}

export const apiKeyDetector: Detector = { type: 'api_key', find: findApiKeys };
export const bearerTokenDetector: Detector = { type: 'bearer_token', find: findBearerTokens };
