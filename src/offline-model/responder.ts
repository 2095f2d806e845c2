/**
 * What the offline model says. It is no language model: it answers deterministically from the request so that
 * demos read sensibly and tests can predict replies. It can recall a stated fact ("my name is Ada" … "what is my
 * name?") when that fact is anywhere in the context it was sent — which makes context assembly visible.
 */
export interface ResponderInput {
  system: string;
  /** Every message's text, oldest first. */
  messages: { role: 'user' | 'assistant'; text: string }[];
}

const QUESTION = /\bwhat(?:'s| is| was)\s+my\s+([a-z][a-z ]{0,40}?)\s*\?/i;

export function offlineReply(input: ResponderInput): string {
  const last = input.messages.at(-1)?.text ?? '';
  const question = QUESTION.exec(last);
  if (question) {
    const subject = question[1]!.trim();
    const fact = recallFact(subject, [input.system, ...input.messages.slice(0, -1).map((m) => m.text)]);
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
  const statement = new RegExp(`\\bmy\\s+${escaped}\\s+(?:is|was)\\s+([^.,;!?\\n]+)`, 'gi');
  let found: string | undefined;
  for (const text of texts) for (const m of text.matchAll(statement)) found = m[1]!.trim();
  return found;
}
