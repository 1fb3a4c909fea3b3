import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { login, signup } from './support/accounts.js';
import { startApp, type RunningApp } from './support/app.js';
import { call, sessionFrom } from './support/http.js';

const ITERATIONS = 100;
/**
 * When each racing login starts, in ms after the password change was sent: spread over the
 * change's two bcrypt runs (about 2-5 ms each at cost 6 here), so that some logins read the
 * old hash before the change writes the new one and finish verifying it after.
 */
const LOGIN_OFFSETS_MS = [0, 1, 2, 3, 4, 6, 8, 11, 15];
const NEW_PASSWORD = 'a brand new password';

describe('a password change against logins with the old password', () => {
  let server: RunningApp;

  beforeAll(async () => {
    // A cost above the test default widens the window the race needs to show.
    server = await startApp({ env: { BCRYPT_COST: '6' } });
  });

  afterAll(async () => {
    await server.close();
  });

  it(`leaves no session made with the old password working after the 204 (${ITERATIONS} races)`, async () => {
    const url = server.url;
    const survivors: string[] = [];
    let racedLogins = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const account = await signup(url);
      const here = await login(url, account);
      const change = call(url, 'PUT', '/users/me/password', {
        session: here,
        body: { currentPassword: account.password, newPassword: NEW_PASSWORD },
      });
      const logins = LOGIN_OFFSETS_MS.map(async (offset) => {
        await sleep(offset);
        return call(url, 'POST', '/auth/login', {
          body: { username: account.username, password: account.password },
        });
      });
      expect((await change).status).toBe(204);
      let alive = 0;
      for (const reply of await Promise.all(logins)) {
        expect([200, 401]).toContain(reply.status);
        if (reply.status !== 200) continue;
        racedLogins += 1;
        const me = await call(url, 'GET', '/users/me', { session: sessionFrom(reply) });
        if (me.status !== 401) alive += 1;
      }
      if (alive > 0) survivors.push(`iteration ${i}: ${alive} sessions still working`);
      expect((await call(url, 'GET', '/users/me', { session: here })).status).toBe(200);
    }
    expect(survivors).toEqual([]);
    expect(racedLogins).toBeGreaterThan(0);
  }, 180_000);
});
