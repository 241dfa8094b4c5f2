/**
 * The node's `err` serializer: pino's standard one (type, message, stack with its causes, own
 * fields), except that a cause's message is appended to the message only when the message does
 * not say it already. Most errors here quote their cause ("the batch was not written: IO error:
 * ... No space left on device"), and pino's default appends every cause again, so each error
 * line read its reason twice.
 */
import pino from 'pino';

type ErrorLike = { message?: unknown; cause?: unknown };

const isErrorLike = (v: unknown): v is ErrorLike & { message: string } => typeof v === 'object' && v !== null && typeof (v as ErrorLike).message === 'string';

/** The message, then each cause's message that it does not contain yet (": "-joined, cycle-safe). */
export function messageOnce(err: ErrorLike & { message: string }): string {
  let text = err.message;
  const seen = new Set<unknown>([err]);
  for (let c = err.cause; isErrorLike(c) && !seen.has(c); c = c.cause) {
    seen.add(c);
    if (c.message !== '' && !text.includes(c.message)) text = text === '' ? c.message : `${text}: ${c.message}`;
  }
  return text;
}

export function errSerializer(err: unknown): unknown {
  const out = pino.stdSerializers.err(err as Error);
  if (isErrorLike(err) && typeof out === 'object' && out !== null) (out as { message: string }).message = messageOnce(err);
  return out;
}

export const logSerializers = { err: errSerializer };
