import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Locator, Page } from 'playwright-core';
import { PASSWORD, uniqueName } from './support/accounts.js';
import { startApp, type RunningApp } from './support/app.js';
import { launchChromium, type Browser } from './support/chromium.js';

/**
 * Swagger UI at /docs, driven in headless Chromium as a person would use it: "Try it out" on
 * signup, login and GET /users/me, with the session cookie kept by the browser in between.
 * Proves that the page runs under the docs CSP and that its calls reach the API with
 * credentials. Needs Debian's `chromium` package; Playwright's own browsers are not used.
 */

/** Upper bound of every single browser step (a click, a wait for a response). */
const STEP_TIMEOUT = 30_000;
const SCREENSHOT = fileURLToPath(new URL('../test-artifacts/swagger-ui.png', import.meta.url));

/** Records what the page reports about its Content Security Policy, in the page itself. */
const RECORD_CSP_VIOLATIONS = `
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (event) => {
    window.__cspViolations.push(
      event.effectiveDirective + ' blocked ' + (event.blockedURI || '(inline)') +
        (event.sourceFile ? ' at ' + event.sourceFile + ':' + event.lineNumber : ''),
    );
  });
`;

interface LiveResponse {
  status: number;
  body: string;
}

describe('Swagger UI at /docs, in a browser', () => {
  let server: RunningApp | undefined;
  let browser: Browser | undefined;
  let page: Page;
  /** Console errors and warnings, and uncaught page errors. */
  const problems: string[] = [];

  beforeAll(async () => {
    server = await startApp();
    browser = await launchChromium('swagger-ui', STEP_TIMEOUT, { width: 1280, height: 900 });
    const { context } = browser;
    await context.addInitScript(RECORD_CSP_VIOLATIONS);
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') {
        problems.push(`console.${message.type()}: ${message.text()}`);
      }
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  });

  afterAll(async () => {
    try {
      await browser?.close();
    } finally {
      await server?.close();
    }
  });

  /** CSP violations the page recorded, and console errors and page errors about them. */
  async function cspProblems(): Promise<string[]> {
    const violations = await page.evaluate<string[]>('window.__cspViolations ?? []');
    return violations.concat(
      problems.filter((problem) => /content security policy|refused to|page error/i.test(problem)),
    );
  }

  /** The operation block of one method and path, whatever its operationId. */
  function operation(method: string, path: string): Locator {
    return page.locator(`.opblock.opblock-${method.toLowerCase()}`, {
      has: page.locator(`.opblock-summary-path[data-path="${path}"]`),
    });
  }

  /** Opens the operation and switches it to "Try it out". */
  async function tryItOut(block: Locator): Promise<void> {
    await block.locator('.opblock-summary-control').click();
    await block.locator('.try-out__btn').click();
    await block.locator('.btn.execute').waitFor();
  }

  /**
   * Clicks Execute and answers what the UI shows as the live response, after checking it
   * against the response the browser actually received.
   */
  async function execute(block: Locator, method: string, path: string): Promise<LiveResponse> {
    const [received] = await Promise.all([
      page.waitForResponse(
        (response) =>
          response.request().method() === method && new URL(response.url()).pathname === path,
      ),
      block.locator('.btn.execute').click(),
    ]);
    const live = block.locator('.live-responses-table tbody tr.response');
    const statusCell = live.locator('.response-col_status');
    await statusCell.waitFor();
    const status = Number((await statusCell.innerText()).trim().match(/^\d{3}/)?.[0]);
    expect(status).toBe(received.status());
    const body = await live.locator('.response-col_description .highlight-code pre').innerText();
    return { status, body };
  }

  it('signs up, logs in and reads GET /users/me with "Try it out", the session kept by the browser', async () => {
    const username = uniqueName('swagger');
    const credentials = JSON.stringify({ username, password: PASSWORD }, null, 2);

    await page.goto(`${server!.url}/docs`);
    try {
      await page.locator('.swagger-ui .information-container .title').waitFor();
      await page.locator('.opblock').first().waitFor();
    } catch (error) {
      // A UI that never renders is most likely blocked by the page's CSP: say so.
      const reasons = (await cspProblems()).concat(problems);
      throw new Error(`Swagger UI did not render: ${String(error)}\n${reasons.join('\n')}`);
    }
    expect(await cspProblems()).toEqual([]);

    const signup = operation('POST', '/auth/signup');
    await tryItOut(signup);
    await signup.locator('textarea.body-param__text').fill(credentials);
    const created = await execute(signup, 'POST', '/auth/signup');
    expect(created.status).toBe(201);
    expect(JSON.parse(created.body)).toMatchObject({ username });

    const login = operation('POST', '/auth/login');
    await tryItOut(login);
    await login.locator('textarea.body-param__text').fill(credentials);
    const loggedIn = await execute(login, 'POST', '/auth/login');
    expect(loggedIn.status).toBe(200);
    expect(JSON.parse(loggedIn.body)).toMatchObject({ username });
    const cookies = await browser!.context.cookies(server!.url);
    expect(cookies).toContainEqual(expect.objectContaining({ name: 'sid', httpOnly: true }));

    const me = operation('GET', '/users/me');
    await tryItOut(me);
    const current = await execute(me, 'GET', '/users/me');
    expect(current.status).toBe(200);
    expect(current.body).toContain(username);
    expect(JSON.parse(current.body)).toMatchObject({ username });

    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    await me.locator('.live-responses-table').scrollIntoViewIfNeeded();
    await me.screenshot({ path: SCREENSHOT });

    expect(await cspProblems()).toEqual([]);
  }, 120_000);
});
