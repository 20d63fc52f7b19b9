/**
 * The demo's service worker: lets the app itself load while offline (the data
 * already works offline: it is in IndexedDB). Same-origin GET requests go to
 * the network first and the answer is kept; when the network is gone, the
 * kept answer is served. The page sends the URLs it loaded before this worker
 * controlled it (main.tsx), so that the first visit is enough. The sync
 * server is another origin: its requests pass through untouched.
 */
const CACHE = 'chronicle-demo-app-v1';

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('message', (event) => {
  const urls = Array.isArray(event.data?.keep) ? event.data.keep.filter((url) => typeof url === 'string') : [];
  const same = urls.filter((url) => new URL(url).origin === self.location.origin);
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => Promise.all(same.map((url) => cache.add(url).catch(() => undefined))))
      .then(() => event.source?.postMessage({ kept: same.length })),
  );
});

/**
 * What the browser's own HTTP cache holds for `request`, stale or not: the
 * engine's worker and its modules were loaded on the first visit before this
 * worker was in place, so only the HTTP cache saw them.
 */
function fromHttpCache(request) {
  return fetch(request.url, { cache: 'only-if-cached', mode: 'same-origin' }).catch(() => Response.error());
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) return;
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          void caches.open(CACHE).then((cache) => cache.put(request, copy));
        }
        return response;
      })
      .catch(async () => (await caches.match(request, { ignoreVary: true })) ?? fromHttpCache(request)),
  );
});
