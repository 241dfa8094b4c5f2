// profilesync dashboard, loaded before the app (a tiny classic async script, not bundled): on a reload
// of a signed-in tab that shows the profile list, ask the node for the list's first page at
// once, while the app's script is still being fetched and compiled. The app takes the answer
// (src/lib/api.ts: takePrimed) instead of asking again; when it has arrived before the list
// renders, the list's first frame already shows the rows. FIRST_PAGE_URL must be the URL the
// list asks first (test/pure.test.ts checks it).
(() => {
  const FIRST_PAGE_URL = '/api/profiles?facets=true&limit=50&order=asc&sort=name';

  let token = null;
  let session = null;
  try {
    token = sessionStorage.getItem('profilesync.token');
    session = sessionStorage.getItem('profilesync.session');
  } catch {
    return;
  }
  const route = (location.hash.replace(/^#\/?/, '').split('?')[0] || '');
  // the app already runs (this script arrived late): it asks by itself
  if (window.__psAppStarted) return;
  if (!token || !session || !(route === '' || route === 'profiles' || route === 'profiles/')) return;
  const primed = { token, url: FIRST_PAGE_URL, done: undefined, result: undefined };
  primed.result = fetch(FIRST_PAGE_URL, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, cache: 'no-store' }).then(async (r) => {
    const text = await r.text();
    let body;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    primed.done = { status: r.status, body };
    return primed.done;
  });
  primed.result.catch(() => undefined);
  window.__psPrimed = primed;
  setTimeout(() => {
    if (window.__psPrimed === primed) delete window.__psPrimed; // unclaimed: forget it
  }, 10000);
})();
