/**
 * @profilesync/client: the app SDK of profilesync.
 *
 *   import { createClient } from '@profilesync/client';
 *   const ps = createClient({ url: 'http://127.0.0.1:7878', token: process.env.PROFILESYNC_TOKEN, live: true });
 *   const profile = await ps.get('support', { label: 'production' });
 *   const { request } = await ps.render('support', { customer: 'Ada' }, { label: 'production' });
 *   const answer = await ps.cached(profile, request, () => callModel(request));
 *   ps.on('error', (err) => log.warn(err));
 *   await ps.close();
 */
export { createClient, ProfileSyncClient, type ClientOptions, type ClientEvents, type ClientStats } from './client.js';
export { ClientError, ClientErrorCode, type ClientErrorOptions } from './errors.js';
export { storageStore, type PersistStore } from './persist.js';
export { backoffDelay, type BackoffOptions } from './live.js';
export type { CachedOptions, ProfileStamp, ResponseCacheOptions } from './responses.js';
export { verifyWebhook, WEBHOOK_SIGNATURE_HEADER, type WebhookDelivery } from './webhook.js';
export type * from './types.js';
