/**
 * verifyWebhook: the receiving side of node webhooks (HMAC-SHA256 over the raw body, compared in
 * constant time; age check). The node's deliveries themselves are tested in apps/server.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyWebhook } from '@profilesync/client';

const secret = 'whsec_test_0123456789abcdef';
const body = JSON.stringify({ id: 'lx2k-7', event: 'profile.updated', events: ['profile.updated'], hook: 'h1', at: '2030-01-01T00:00:00.000Z', sentAt: '2030-01-01T00:00:01.000Z', attempt: 1, catchUp: false, data: { id: 'p', version: 'v', labels: {}, deleted: false } });
const sig = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
const now = () => Date.parse('2030-01-01T00:00:02.000Z');

describe('verifyWebhook', () => {
  it('accepts a body signed with the secret (as node:crypto computes it) and returns the delivery', async () => {
    await expect(verifyWebhook(body, sig, secret, { now })).resolves.toMatchObject({ id: 'lx2k-7', data: { id: 'p' } });
    await expect(verifyWebhook(new TextEncoder().encode(body), sig, secret, { now })).resolves.toMatchObject({ attempt: 1 });
  });

  it('refuses a changed body, another secret, a missing header, an old delivery', async () => {
    const cases: [() => Promise<unknown>, string][] = [
      [() => verifyWebhook(body.replace('"p"', '"q"'), sig, secret, { now }), 'mismatch'],
      [() => verifyWebhook(body, sig, 'another-secret', { now }), 'mismatch'],
      [() => verifyWebhook(body, undefined, secret, { now }), 'missing'],
      [() => verifyWebhook(body, 'sha1=abc', secret, { now }), 'missing'],
      [() => verifyWebhook(body, sig, secret, { now: () => now() + 3600_000 }), 'stale'],
    ];
    for (const [p, reason] of cases) await expect(p()).rejects.toMatchObject({ code: 'CLIENT_BAD_SIGNATURE', details: { reason } });
  });
});
