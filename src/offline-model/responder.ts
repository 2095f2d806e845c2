/**
 * What the offline model says. It is no language model: it answers deterministically from the request so that
 * demos read sensibly and tests can predict replies. It can recall a stated fact ("my name is Ada" … "what is my
 * name?") when that fact is anywhere in the context it was sent — which makes context assembly visible.
 */
export interface ResponderInput {
  system: string;
  /** Every message's text, oldest first (tool results and tool_use inputs as text). */
  messages: { role: 'user' | 'assistant'; text: string; toolResults?: boolean }[];
}

const QUESTION = /\bwhat(?:'s| is| was)\s+my\s+([a-z][a-z ]{0,40}?)\s*\?/i;

/** Questions about the past: with `search_memory` offered, the offline model looks before it answers. */
const ABOUT_THE_PAST = /\b(remember|earlier|last time|before|previously|what did i|did i (?:tell|say|mention))\b/i;

/**
 * The tool calls the offline model makes unprompted: `search_memory` with the user's question when it asks about
 * the past and the tool is offered. Never after tool results (it answers from them instead).
 */
export function offlineToolCalls(
  input: ResponderInput,
  offered: string[],
): { name: string; input: object }[] | undefined {
  const last = input.messages.at(-1);
  if (!last || last.role !== 'user' || last.toolResults || !offered.includes('search_memory')) return undefined;
  const question = last.text.split('<turn_data>')[0]!.trim();
  return ABOUT_THE_PAST.test(question) ? [{ name: 'search_memory', input: { query: question } }] : undefined;
}

export function offlineReply(input: ResponderInput): string {
  const lastMessage = input.messages.at(-1);
  if (lastMessage?.toolResults) return answerFromToolResults(input);
  const last = lastMessage?.text ?? '';
  if (input.system.includes('<memoir-task name="summarize"/>')) return summarize(last);
  if (input.system.includes('<memoir-task name="extract-facts"/>')) return extractFacts(last);
  const question = QUESTION.exec(last);
  if (question) {
    const subject = question[1]!.trim();
    // Everything it was sent counts, the recalled memories appended to this very message included.
    const fact = recallFact(subject, [input.system, ...input.messages.map((m) => m.text)]);
    return fact
      ? `Your ${subject} is ${fact}.`
      : `I don't know your ${subject} yet — nothing in the context I was given mentions it.`;
  }
  const earlier = input.messages.length - 1;
  const snippet = last.replace(/\s+/g, ' ').trim().slice(0, 80);
  return (
    `(offline model) I read your message "${snippet}${last.length > 80 ? '…' : ''}" ` +
    `with ${earlier} earlier message${earlier === 1 ? '' : 's'} in context.`
  );
}

/** The newest "my <subject> is <value>" in the texts. */
function recallFact(subject: string, texts: string[]): string | undefined {
  const escaped = subject.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const statement = new RegExp(`\\b(?:my|the user's)\\s+${escaped}\\s+(?:is|was)\\s+([^.,;!?"\\n]+)`, 'gi');
  let found: string | undefined;
  for (const text of texts) for (const m of text.matchAll(statement)) found = m[1]!.trim();
  return found;
}

const TRANSCRIPT_LINE = /^\[id=([^\s\]]+) #(\d+) (user|assistant)\] (.*)$/gm;

/**
 * An extractive stand-in for a summary: the previous summary's sentences plus the first sentence of each new
 * user message, capped. It keeps names and numbers the way a real summary would, but it is not abstractive.
 */
function summarize(prompt: string): string {
  const previous = /<previous_summary>\n([\s\S]*?)\n<\/previous_summary>/.exec(prompt)?.[1] ?? '';
  const sentences = previous === '(none yet)' ? [] : previous.split(/(?<=[.!?])\s+/).filter(Boolean);
  for (const m of prompt.matchAll(TRANSCRIPT_LINE)) {
    if (m[3] !== 'user') continue;
    const first = /^[^.!?]*[.!?]?/.exec(m[4]!.trim())?.[0]?.trim();
    if (first) sentences.push(`The user said: ${first.slice(0, 160)}`);
  }
  // A real summary is a few hundred words; keep the newest sentences that fit about that.
  const kept: string[] = [];
  let length = 0;
  for (const sentence of sentences.reverse()) {
    if (length + sentence.length > 1_600) break;
    kept.unshift(sentence);
    length += sentence.length + 1;
  }
  return kept.join(' ') || 'Nothing of note was said.';
}

const FACT_PATTERNS: {
  re: RegExp;
  kind: 'fact' | 'preference' | 'decision';
  subject: (m: RegExpMatchArray) => string;
  text: (m: RegExpMatchArray) => string;
}[] = [
  {
    re: /\bmy ([a-z][a-z ]{1,30}?) (?:is|are|was) ([^.,;!?]{1,80})/gi,
    kind: 'fact',
    subject: (m) => m[1]!,
    text: (m) => `The user's ${m[1]} is ${m[2]!.trim()}.`,
  },
  {
    re: /\bI (?:really )?(?:like|love|prefer|enjoy) ([^.,;!?]{1,60})/gi,
    kind: 'preference',
    subject: (m) => `likes ${m[1]!.trim().split(' ')[0]}`,
    text: (m) => `The user likes ${m[1]!.trim()}.`,
  },
  {
    re: /\b(?:I|we) (?:decided|have decided|will) to ([^.,;!?]{1,80})/gi,
    kind: 'decision',
    subject: (m) => `plan ${m[1]!.trim().split(' ')[0]}`,
    text: (m) => `The user decided to ${m[1]!.trim()}.`,
  },
];

/** A pattern-based stand-in for fact extraction, answering in the JSON the real prompt asks for. */
function extractFacts(prompt: string): string {
  const facts: { kind: string; subject: string; text: string; sourceMessageIds: string[] }[] = [];
  for (const line of prompt.matchAll(TRANSCRIPT_LINE)) {
    if (line[3] !== 'user') continue;
    for (const p of FACT_PATTERNS) {
      for (const m of line[4]!.matchAll(p.re))
        facts.push({
          kind: p.kind,
          subject: p.subject(m).toLowerCase(),
          text: p.text(m),
          sourceMessageIds: [line[1]!],
        });
    }
  }
  return JSON.stringify({ facts });
}

/** After tool results: the question is the newest plain user message; the results are part of what it knows. */
function answerFromToolResults(input: ResponderInput): string {
  const question = [...input.messages].reverse().find((m) => m.role === 'user' && !m.toolResults)?.text ?? '';
  const asked = QUESTION.exec(question);
  const results = input.messages.at(-1)?.text ?? '';
  if (asked) {
    const subject = asked[1]!.trim();
    const fact = recallFact(subject, [input.system, ...input.messages.map((m) => m.text)]);
    if (fact) return `Your ${subject} is ${fact}.`;
  }
  const snippet = results.replace(/\s+/g, ' ').trim().slice(0, 200);
  return `(offline model) The tool said: ${snippet}`;
}
