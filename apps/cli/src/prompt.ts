/**
 * Secret prompts on a TTY without echo (passphrases, recovery phrases), and the lookup
 * order env var -> prompt -> coded error when neither is possible.
 */
import { ProfileSyncError } from '@profilesync/errors';

/** Reads one line from a TTY without echoing it. */
export function promptHidden(question: string, input: NodeJS.ReadStream = process.stdin, output: NodeJS.WriteStream = process.stderr): Promise<string> {
  return new Promise((resolve, reject) => {
    if (!input.isTTY) {
      reject(new ProfileSyncError('CRYPTO_PASSPHRASE_REQUIRED', 'no TTY to prompt on; set PROFILESYNC_PASSPHRASE'));
      return;
    }
    output.write(question);
    const wasRaw = input.isRaw;
    input.setRawMode(true);
    input.resume();
    input.setEncoding('utf8');
    let value = '';
    const finish = (err?: Error) => {
      input.setRawMode(wasRaw);
      input.pause();
      input.removeListener('data', onData);
      output.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish();
        if (ch === '\u0003') return finish(new ProfileSyncError('USAGE', 'cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    input.on('data', onData);
  });
}

export interface SecretSource {
  env?: Record<string, string | undefined>;
  /** false when prompting is not allowed (tests, --json scripts without a TTY) */
  interactive?: boolean;
}

/** PROFILESYNC_PASSPHRASE, else a hidden prompt (twice when `confirm`), else CRYPTO_PASSPHRASE_REQUIRED. */
export async function getPassphrase(src: SecretSource, opts: { confirm?: boolean; purpose?: string } = {}): Promise<string> {
  const env = src.env ?? process.env;
  const fromEnv = env.PROFILESYNC_PASSPHRASE;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (src.interactive === false || !process.stdin.isTTY) {
    throw new ProfileSyncError('CRYPTO_PASSPHRASE_REQUIRED', `a passphrase is needed${opts.purpose ? ` to ${opts.purpose}` : ''}: set PROFILESYNC_PASSPHRASE or run on a terminal`);
  }
  const first = await promptHidden(`Passphrase${opts.purpose ? ` (${opts.purpose})` : ''}: `);
  if (first.length === 0) throw new ProfileSyncError('CRYPTO_PASSPHRASE_REQUIRED', 'empty passphrase');
  if (opts.confirm) {
    const second = await promptHidden('Repeat passphrase: ');
    if (second !== first) throw new ProfileSyncError('USAGE', 'the passphrases do not match');
  }
  return first;
}
