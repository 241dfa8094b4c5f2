/**
 * Hash routes (#/profiles, #/profiles/ID, #/profiles/ID/history, #/audit, #/cache, #/peers, #/tokens,
 * #/webhooks, #/webhooks/ID):
 * the node serves one page at `/` and never has to know the UI's paths.
 */
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { name: 'profiles' }
  | { name: 'editor'; id: string }
  | { name: 'history'; id: string }
  | { name: 'audit'; profile?: string }
  | { name: 'cache' }
  | { name: 'peers' }
  | { name: 'tokens' }
  | { name: 'webhooks'; id?: string };

export function parseRoute(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter((p) => p !== '').map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  const q = new URLSearchParams(query);
  if (parts[0] === 'profiles' && parts[1] !== undefined) return parts[2] === 'history' ? { name: 'history', id: parts[1] } : { name: 'editor', id: parts[1] };
  if (parts[0] === 'audit') return q.get('profile') ? { name: 'audit', profile: q.get('profile')! } : { name: 'audit' };
  if (parts[0] === 'cache') return { name: 'cache' };
  if (parts[0] === 'peers') return { name: 'peers' };
  if (parts[0] === 'tokens') return { name: 'tokens' };
  if (parts[0] === 'webhooks') return parts[1] !== undefined ? { name: 'webhooks', id: parts[1] } : { name: 'webhooks' };
  return { name: 'profiles' };
}

export function href(route: Route): string {
  switch (route.name) {
    case 'profiles':
      return '#/profiles';
    case 'editor':
      return `#/profiles/${encodeURIComponent(route.id)}`;
    case 'history':
      return `#/profiles/${encodeURIComponent(route.id)}/history`;
    case 'audit':
      return route.profile ? `#/audit?profile=${encodeURIComponent(route.profile)}` : '#/audit';
    case 'cache':
      return '#/cache';
    case 'peers':
      return '#/peers';
    case 'tokens':
      return '#/tokens';
    case 'webhooks':
      return route.id ? `#/webhooks/${encodeURIComponent(route.id)}` : '#/webhooks';
  }
}

export function navigate(route: Route): void {
  location.hash = href(route);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}
