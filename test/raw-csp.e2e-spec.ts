import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { login, signup } from './support/accounts.js';
import { CONTENT_TYPES } from '../src/documents/entities/document.entity.js';
import { startApp, type RunningApp } from './support/app.js';
import { launchChromium, type Browser } from './support/chromium.js';
import { call } from './support/http.js';

/**
 * A stored HTML page opened through /documents/{id}/raw in headless Chromium, as a reader's
 * browser opens it: everything it references on another origin (a tracker) must stay
 * unloaded. Needs Debian's `chromium` package, as the Swagger UI suite does.
 */

const STEP_TIMEOUT = 30_000;
/** After the load event, time for late requests (lazy fonts, prefetches) to show up. */
const SETTLE_MS = 1_500;

/** A page that tries every kind of subresource a stored document could use to call home. */
function hostilePage(tracker: string): string {
  return `<!doctype html>
<html>
<head>
  <title>stored page</title>
  <link rel="stylesheet" href="${tracker}/style.css">
  <link rel="prefetch" href="${tracker}/prefetch">
  <link rel="icon" href="${tracker}/favicon.ico">
  <style>
    @font-face { font-family: Tracked; src: url(${tracker}/font.woff2); }
    body { font-family: Tracked, serif; background: url(${tracker}/background.png); }
  </style>
  <script src="${tracker}/script.js"></script>
</head>
<body>
  <p id="text">Hello, reader.</p>
  <img src="${tracker}/pixel.png" alt="">
  <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="inline">
  <iframe src="${tracker}/frame"></iframe>
  <video poster="${tracker}/poster.png"></video>
  <object data="${tracker}/object"></object>
  <form action="${tracker}/form" method="post"><input type="image" src="${tracker}/button.png"></form>
</body>
</html>`;
}

describe('a stored HTML page opened through /raw, in a browser', () => {
  let server: RunningApp | undefined;
  let tracker: Server | undefined;
  let browser: Browser | undefined;
  const trackerHits: string[] = [];

  beforeAll(async () => {
    server = await startApp();
    tracker = createServer((request, response) => {
      trackerHits.push(`${request.method} ${request.url}`);
      response.writeHead(200, { 'content-type': 'text/plain' }).end('');
    });
    tracker.listen(0, '127.0.0.1');
    await once(tracker, 'listening');
    browser = await launchChromium('raw-csp', STEP_TIMEOUT);
  });

  afterAll(async () => {
    try {
      await browser?.close();
    } finally {
      tracker?.close();
      await server?.close();
    }
  });

  it('loads nothing from another origin: no image, stylesheet, font, script or frame', async () => {
    const { port } = tracker!.address() as AddressInfo;
    const account = await signup(server!.url);
    const session = await login(server!.url, account);
    const created = await call(server!.url, 'POST', '/documents', {
      session,
      body: {
        title: 'a page that calls home',
        content: hostilePage(`http://127.0.0.1:${port}`),
        contentType: 'text/html',
        visibility: 'public',
      },
    });
    expect(created.status).toBe(201);

    const page = browser!.context.pages()[0] ?? (await browser!.context.newPage());
    const response = await page.goto(`${server!.url}/documents/${created.body.id}/raw`, {
      waitUntil: 'load',
    });
    expect(response?.status()).toBe(200);
    expect(await page.locator('#text').innerText()).toBe('Hello, reader.');
    await sleep(SETTLE_MS);

    expect(trackerHits).toEqual([]);
  }, 120_000);

  it.each(CONTENT_TYPES)(
    'serves %s through /raw sandboxed, with default-src none',
    async (contentType) => {
      const account = await signup(server!.url);
      const session = await login(server!.url, account);
      const created = await call(server!.url, 'POST', '/documents', {
        session,
        body: { title: contentType, content: '{}', contentType },
      });
      const reply = await call(server!.url, 'GET', `/documents/${created.body.id}/raw`, {
        session,
      });
      expect(reply.status).toBe(200);
      const directives = String(reply.headers['content-security-policy'])
        .split(';')
        .map((directive) => directive.trim());
      expect(directives).toEqual(expect.arrayContaining(['sandbox', "default-src 'none'"]));
      expect(directives.filter((directive) => /https?:|\*|'self'/.test(directive))).toEqual([]);
    },
  );
});
