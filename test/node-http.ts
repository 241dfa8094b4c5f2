/** Helpers of the e2e tests that drive in-process nodes (damage, fault injection) over HTTP. */
import type { RunningServer } from '@profilesync/server';

export interface Answer {
  status: number;
  json: any;
  text: string;
}

/** One request with `token`; the body as JSON; the answer's JSON when it is JSON. */
export async function req(s: RunningServer, token: string, method: string, path: string, body?: unknown): Promise<Answer> {
  const res = await fetch(s.url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

/** Waits until `fn` holds (polling every 20 ms), or throws naming `what`. */
export async function until(fn: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}
