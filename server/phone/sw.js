/* The phone page's service worker (scope /m/). It keeps the page's shell and the last answers of the field API's
   reads, so a person without signal still sees their orders. Network first, the cache when the network fails;
   a cached API answer carries X-FQ-Cached-At (when it was fetched), so the page can say how old it is.
   Writes (POST) are never cached or replayed here: the page queues them in IndexedDB with their idempotency key. */
'use strict';
const SHELL_CACHE = 'fq-shell-v1';
const API_CACHE = 'fq-api';
const SHELL = ['/m/', '/m/app.js', '/m/app.css', '/m/manifest.webmanifest', '/m/icon.svg'];
const SHELL_TIMEOUT_MS = 4000; // a weak signal should not keep the page blank: use the cached shell after this

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('fq-shell-') && name !== SHELL_CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

function isApiRead(url) {
  return url.pathname === '/v1/field/me' || url.pathname === '/v1/field/orders' || url.pathname.startsWith('/v1/field/orders/') ||
    url.pathname.startsWith('/v1/field/photos/');
}

function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), ms);
    promise.then((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
  });
}

async function shell(request) {
  const url = new URL(request.url);
  // every page address (/m/, /m/o/<token>) is the same index.html
  const key = request.mode === 'navigate' || url.pathname === '/m/' || url.pathname.startsWith('/m/o/') ? '/m/' : url.pathname;
  const cache = await caches.open(SHELL_CACHE);
  const network = fetch(request).then(async (res) => {
    if (res.ok && res.type === 'basic') await cache.put(key, res.clone());
    return res;
  });
  try {
    return await withTimeout(network, SHELL_TIMEOUT_MS);
  } catch (e) {
    const hit = await cache.match(key);
    if (hit) return hit;
    return network; // nothing cached yet: wait for the network after all
  }
}

async function apiRead(request) {
  const cache = await caches.open(API_CACHE);
  const url = new URL(request.url);
  const key = url.origin + url.pathname; // ?lang= and the like do not make another entry
  if (url.pathname.startsWith('/v1/field/photos/')) {
    const hit = await cache.match(key); // content-addressed: never changes
    if (hit) return hit;
  }
  try {
    const res = await fetch(request);
    if (res.status === 401) {
      for (const k of await cache.keys()) await cache.delete(k); // signed out: nothing personal stays
    } else if (res.ok) {
      const headers = new Headers(res.headers);
      headers.set('X-FQ-Cached-At', new Date().toISOString());
      const body = await res.clone().blob();
      await cache.put(key, new Response(body, { status: res.status, statusText: res.statusText, headers }));
    }
    return res;
  } catch (e) {
    const hit = await cache.match(key);
    if (hit) return hit;
    return new Response(JSON.stringify({ detail: 'offline', field: null }), {
      status: 503, headers: { 'Content-Type': 'application/json', 'X-FQ-Offline': '1' },
    });
  }
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (isApiRead(url)) event.respondWith(apiRead(request));
  else if (url.pathname.startsWith('/m/')) event.respondWith(shell(request));
});
