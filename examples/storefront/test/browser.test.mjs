// The example storefront in headless Chromium (Debian's `chromium`, driven
// by playwright-core), against a real `authd dev` on another origin. Run by
// tests/browser.rs, which starts authd and sets:
//   AUTHD_ENDPOINT  http://localhost:<port>/graphql/storefront
//   AUTHD_API_KEY   the shop project's public key (cookieSessions, allowedOrigins: the shop)
//   AUTHD_ADMIN_KEY its secret key (the test records orders as the shop's backend would)
//   SHOP_PORT       where the shop page is served (http://localhost:<port>)
//   EVIL_PORT       a third origin, allowed by another project only
//   CHROMIUM        the browser binary
//   OUTPUT_DIR      where the screenshots go
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

import { serve, exampleFiles } from '../serve.mjs';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is unset: run through tests/browser.rs`);
  return v;
};
const endpoint = env('AUTHD_ENDPOINT');
const apiKey = env('AUTHD_API_KEY');
const shop = `http://localhost:${env('SHOP_PORT')}`;
const evil = `http://localhost:${env('EVIL_PORT')}`;
const output = env('OUTPUT_DIR');
mkdirSync(output, { recursive: true });

// The attacker's page: it knows the endpoint and the public key (both are
// public) and tries to sign the visitor out with their cookie, by fetch and
// by a plain form post.
const evilPage = `<!doctype html><meta charset="utf-8"><title>evil</title>
<form id="f" method="POST" enctype="text/plain" action="${endpoint}" target="sink">
  <input name='{"query":"mutation { customerAccessTokenDelete(customerAccessToken: \\"\\") { deletedAccessToken } }","x":"' value='"}'>
</form><iframe name="sink"></iframe>
<script type="module">
  const logout = 'mutation { customerAccessTokenDelete(customerAccessToken: "") { deletedAccessToken } }';
  window.attack = async () => {
    const results = {};
    try {
      const r = await fetch(${JSON.stringify(endpoint)}, {
        method: 'POST', credentials: 'include',
        headers: { 'content-type': 'application/json', 'x-api-key': ${JSON.stringify(apiKey)}, 'x-authd-csrf': '1' },
        body: JSON.stringify({ query: logout }),
      });
      results.fetch = 'status ' + r.status + ' ' + await r.text();
    } catch (e) {
      results.fetch = 'blocked: ' + e.message;
    }
    document.getElementById('f').submit();
    await new Promise((r) => setTimeout(r, 500));
    return results;
  };
</script>`;

const servers = [
  await serve(Number(env('SHOP_PORT')), exampleFiles),
  await new Promise((resolve) => {
    import('node:http').then(({ default: http }) => {
      const s = http.createServer((_, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(evilPage));
      s.listen(Number(env('EVIL_PORT')), 'localhost', () => resolve(s));
    });
  }),
];
const browser = await chromium.launch({ executablePath: env('CHROMIUM'), args: ['--no-sandbox'] });
after(async () => {
  await browser.close();
  for (const s of servers) s.close();
});

test('sign up, sign in, who am I and sign out in cookie mode; scripts cannot read the session; a third origin cannot use it', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const failures = [];
  page.on('pageerror', (e) => failures.push(e.message));
  await page.goto(`${shop}/?endpoint=${encodeURIComponent(endpoint)}&apiKey=${encodeURIComponent(apiKey)}`);
  const email = `shopper${Date.now()}@example.com`;
  await page.fill('#email', email);
  await page.fill('#password', 'correct horse battery staple');
  const click = async (button, expected) => {
    await page.evaluate(() => (document.getElementById('out').textContent = '…'));
    await page.click(button);
    await page.waitForFunction((want) => document.getElementById('out').textContent.includes(want), expected);
    return page.textContent('#out');
  };

  assert.match(await click('#signup', 'created'), new RegExp(`created ${email}`));
  assert.match(await click('#signin', 'signed in until'), /signed in until \d{4}-/);
  assert.equal(await click('#whoami', 'signed in as'), `signed in as ${email}`);
  await page.screenshot({ path: join(output, 'storefront-signed-in.png') });

  // The session is in an HttpOnly cookie: the page's scripts cannot read it.
  assert.equal(await page.evaluate(() => document.cookie), '');
  const cookies = await context.cookies(endpoint);
  const session = cookies.find((c) => c.name === 'authd_sf');
  assert.ok(session, JSON.stringify(cookies));
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Lax');
  // …and the token was never in a response body the page saw.
  const pageText = await page.content();
  assert.ok(!pageText.includes(session.value));

  // A third origin posts the same mutation with the visitor's cookie.
  const attacker = await context.newPage();
  await attacker.goto(`${evil}/`);
  const results = await attacker.evaluate(() => window.attack());
  assert.doesNotMatch(results.fetch, /deletedAccessToken":"|status 200/, JSON.stringify(results));
  await attacker.screenshot({ path: join(output, 'third-origin.png') });
  // The visitor is still signed in.
  assert.equal(await click('#whoami', 'signed in as'), `signed in as ${email}`);

  assert.equal(await click('#signout', 'signed out'), 'signed out');
  assert.equal(await click('#whoami', 'signed out'), 'signed out');
  assert.equal((await context.cookies(endpoint)).find((c) => c.name === 'authd_sf'), undefined);
  await page.screenshot({ path: join(output, 'storefront-signed-out.png') });
  assert.deepEqual(failures, []);
});

test('the SDK adds a passkey and signs in with it, in cookie mode', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const failures = [];
  page.on('pageerror', (e) => failures.push(e.message));
  // A platform authenticator that holds discoverable credentials and
  // verifies the user (DevTools' virtual authenticator).
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', ctap2Version: 'ctap2_1', transport: 'internal',
      hasResidentKey: true, hasUserVerification: true, isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  await page.goto(`${shop}/?endpoint=${encodeURIComponent(endpoint)}&apiKey=${encodeURIComponent(apiKey)}`);
  const email = `sdkpasskey${Date.now()}@example.com`;
  const click = async (button, expected) => {
    await page.evaluate(() => (document.getElementById('out').textContent = '…'));
    await page.click(button);
    await page.waitForFunction((want) => document.getElementById('out').textContent.includes(want), expected,
      { timeout: 20_000 });
    return page.evaluate(() => document.getElementById('out').textContent);
  };
  await page.fill('#email', email);
  await page.fill('#password', 'correct horse battery staple');
  await click('#signup', 'created');
  await click('#signin', 'signed in until');
  assert.equal(await click('#sdk-add-passkey', 'passkey added'),
    'passkey added: This browser, 10 recovery codes');
  const held = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
  assert.equal(held.length, 1);
  assert.equal(await click('#signout', 'signed out'), 'signed out');
  assert.equal(await click('#whoami', 'signed out'), 'signed out');
  // Discoverable: no email, the authenticator offers the passkey.
  await page.fill('#email', '');
  assert.match(await click('#sdk-passkey-signin', 'signed in with a passkey'),
    /^signed in with a passkey until \d{4}-/);
  assert.equal(await click('#whoami', 'signed in as'), `signed in as ${email}`);
  // The session is the cookie, as with a password.
  assert.equal(await page.evaluate(() => document.cookie), '');
  assert.ok((await context.cookies(endpoint)).find((c) => c.name === 'authd_sf'));
  // Now the password alone is not enough: the Storefront asks for a second
  // factor (the SDK answers mfaRequired).
  await click('#signout', 'signed out');
  await page.fill('#email', email);
  assert.equal(await click('#signin', 'mfa required'), 'mfa required: RECOVERY_CODE');
  await page.screenshot({ path: join(output, 'storefront-passkey.png') });
  assert.deepEqual(failures, []);
  await context.close();
});

test('the account page shows the addresses and the order history', async () => {
  const page = await browser.newPage();
  await page.goto(`${shop}/?endpoint=${encodeURIComponent(endpoint)}&apiKey=${encodeURIComponent(apiKey)}`);
  const email = `acct${Date.now()}@example.com`;
  const click = async (button, expected) => {
    await page.evaluate(() => (document.getElementById('out').textContent = '…'));
    await page.click(button);
    await page.waitForFunction((want) => document.getElementById('out').textContent.includes(want), expected);
    return page.evaluate(() => document.getElementById('out').textContent);
  };
  await page.fill('#email', email);
  await page.fill('#password', 'correct horse battery staple');
  await click('#signup', 'created');
  await click('#signin', 'signed in until');
  await page.fill('#address1', '1 Main St');
  await page.fill('#city', 'Ottawa');
  await page.fill('#province', 'Ontario');
  await page.fill('#country', 'Canada');
  assert.equal(await click('#add-address', 'address added'), 'address added: 1 Main St, Ottawa ON, Canada');
  await page.fill('#country', 'Atlantis');
  assert.match(await click('#add-address', 'INVALID'), /INVALID/);

  // The shop's backend records two orders for this customer.
  const admin = endpoint.replace('/graphql/storefront', '/graphql/admin');
  for (const [n, day] of [[1001, '03'], [1002, '05']]) {
    const r = await fetch(admin, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${env('AUTHD_ADMIN_KEY')}` },
      body: JSON.stringify({
        query: 'mutation R($i: OrderRecordInput!) { orderRecord(input: $i) { success errors { message } } }',
        variables: { i: {
          email, externalId: `${email}-${n}`, name: `#${n}`, processedAt: `2026-03-${day}T09:00:00Z`,
          currencyCode: 'CAD', totalPrice: '42.00', fulfillmentStatus: 'FULFILLED',
        } },
      }),
    });
    assert.equal((await r.json()).data.orderRecord.success, true);
  }
  assert.equal(await click('#account', 'account:'), 'account: 1 addresses, 2 orders');
  const addresses = await page.locator('#addresses p').allTextContents();
  assert.deepEqual(addresses, ['★ 1 Main St, Ottawa ON, Canada']);
  const orders = await page.locator('#orders p').allTextContents();
  assert.deepEqual(orders, [
    '#1002 · 2026-03-05 · FULFILLED · 42.00 CAD',
    '#1001 · 2026-03-03 · FULFILLED · 42.00 CAD',
  ]);
  await page.screenshot({ path: join(output, 'storefront-account.png'), fullPage: true });
  await page.close();
});
