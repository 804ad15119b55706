// The passkeys example page (passkeys.html) in headless Chromium (Debian's
// `chromium`, driven by playwright-core) with a virtual authenticator (the
// DevTools protocol's WebAuthn domain), against a real `authd dev` on
// another origin. Run by tests/browser.rs, which starts authd and sets:
//   AUTHD_PUBLIC_ENDPOINT  http://localhost:<port>/graphql/public
//   AUTHD_PUBLIC_API_KEY   the shop project's public key (webauthnRpId "localhost",
//                          webauthnOrigins: the passkey shop; allowedOrigins: both pages)
//   PASSKEY_SHOP_PORT      where the passkey page is served (http://localhost:<port>,
//                          the project's WebAuthn origin); not SHOP_PORT, which
//                          browser.test.mjs serves at the same time
//   FOREIGN_PORT           the same page on another origin: CORS-allowed, but
//                          not a WebAuthn origin of the project
//   CHROMIUM               the browser binary
//   OUTPUT_DIR             where the screenshots go
// The tests run in order and share the account and its passkey.
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
const endpoint = env('AUTHD_PUBLIC_ENDPOINT');
const apiKey = env('AUTHD_PUBLIC_API_KEY');
const shop = `http://localhost:${env('PASSKEY_SHOP_PORT')}`;
const foreign = `http://localhost:${env('FOREIGN_PORT')}`;
const output = env('OUTPUT_DIR');
mkdirSync(output, { recursive: true });

const servers = [
  await serve(Number(env('PASSKEY_SHOP_PORT')), exampleFiles),
  await serve(Number(env('FOREIGN_PORT')), exampleFiles),
];
const browser = await chromium.launch({ executablePath: env('CHROMIUM'), args: ['--no-sandbox'] });
after(async () => {
  await browser.close();
  for (const s of servers) s.close();
});

// Uncaught errors of every page the tests open.
const failures = [];

/** The passkey page on `origin`, in a tab of its own with its own virtual
 * authenticator: a platform one (like Touch ID or Windows Hello) that holds
 * discoverable credentials, verifies the user and answers at once. */
async function openPasskeyPage(origin) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (e) => failures.push(`${origin}: ${e.message}`));
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      ctap2Version: 'ctap2_1',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  await page.goto(`${origin}/passkeys.html?endpoint=${encodeURIComponent(endpoint)}&apiKey=${encodeURIComponent(apiKey)}`);
  /** The credentials the authenticator holds. */
  const credentials = async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
  return { context, page, cdp, authenticatorId, credentials };
}

/** Clicks `button` and answers what `#out` then says (the page writes it
 * once, when the action is over). */
async function press(page, button) {
  await page.evaluate(() => (document.getElementById('out').textContent = '…'));
  await page.click(button);
  const out = () => page.evaluate(() => document.getElementById('out').textContent);
  try {
    await page.waitForFunction(() => document.getElementById('out').textContent !== '…', null, { timeout: 20_000 });
  } catch (e) {
    // A ceremony the authenticator cannot answer waits for the options'
    // timeout (minutes): fail sooner, and say so.
    throw new Error(`${button}: no answer after 20 s (out: ${await out()})`, { cause: e });
  }
  return out();
}

const passkeyNames = (page) => page.locator('#passkeys li .name').allTextContents();

// What the tests share: the shop's tab, the account, its passkey.
let tab;
// tests/browser.rs names it, to read the account's history afterwards.
const email = process.env.PASSKEY_EMAIL ?? `passkey${Date.now()}@example.com`;
let credential;

test('a signed-in customer adds a passkey, and the account lists it', async () => {
  tab = await openPasskeyPage(shop);
  const { page } = tab;
  await page.fill('#email', email);
  await page.fill('#password', 'correct horse battery staple');
  assert.equal(await press(page, '#signup'), `created ${email}`);
  assert.deepEqual(await passkeyNames(page), []);

  await page.fill('#passkey-name', 'Laptop');
  assert.equal(await press(page, '#add-passkey'), 'passkey added: Laptop');
  assert.deepEqual(await passkeyNames(page), ['Laptop']);
  // The account's first second factor: ten recovery codes, shown once.
  const codes = (await page.textContent('#recovery-codes')).split('\n').slice(1);
  assert.equal(codes.length, 10, JSON.stringify(codes));
  for (const c of codes) assert.match(c, /^[a-z2-9]{5}-[a-z2-9]{5}$/);

  // The authenticator made one discoverable credential for the relying
  // party "localhost" (the sign-in without an email needs it discoverable).
  const held = await tab.credentials();
  assert.equal(held.length, 1, JSON.stringify(held));
  assert.equal(held[0].rpId, 'localhost');
  assert.equal(held[0].isResidentCredential, true,
    'the registration options must ask for a discoverable credential (residentKey)');

  // The same authenticator again: excludeCredentials lists its passkey, so
  // the browser refuses to make a second one.
  await page.fill('#passkey-name', 'Laptop again');
  assert.match(await press(page, '#add-passkey'), /InvalidStateError/);
  assert.deepEqual(await passkeyNames(page), ['Laptop']);
  assert.equal((await tab.credentials()).length, 1);

  await page.screenshot({ path: join(output, 'passkey-registered.png'), fullPage: true });
  assert.deepEqual(failures, []);
});

test('the passkey signs the customer in, by email and as a discoverable credential', async () => {
  assert.ok(tab, 'needs the passkey the test above adds');
  const { page } = tab;
  assert.equal(await press(page, '#signout'), 'signed out');
  assert.deepEqual(await passkeyNames(page), []);

  // By email: authd names the customer's passkeys (allowCredentials).
  await page.fill('#signin-email', email);
  assert.equal(await press(page, '#passkey-signin'), `signed in as ${email}`);
  assert.deepEqual(await passkeyNames(page), ['Laptop']);

  // Without one: the authenticator picks the passkey it holds for the
  // site, and its user handle tells authd whose it is.
  assert.equal(await press(page, '#signout'), 'signed out');
  await page.fill('#signin-email', '');
  assert.equal(await press(page, '#passkey-signin'), `signed in as ${email}`);
  assert.deepEqual(await passkeyNames(page), ['Laptop']);
  await page.screenshot({ path: join(output, 'passkey-signed-in.png'), fullPage: true });

  // Each use moved the authenticator's signature counter on.
  [credential] = await tab.credentials();
  assert.ok(credential.signCount >= 2, JSON.stringify({ signCount: credential.signCount }));
  assert.deepEqual(failures, []);
});

test('a password sign-in asks for the passkey as a second factor', async () => {
  assert.ok(tab, 'needs the passkey the tests above add');
  const { page } = tab;
  assert.equal(await press(page, '#signout'), 'signed out');
  await page.fill('#email', email);
  await page.fill('#password', 'correct horse battery staple');
  // The page sees mfaRequired with PASSKEY among the methods and answers
  // customerLoginMfa with the passkey.
  assert.equal(await press(page, '#signin'), `signed in as ${email} (second factor: a passkey)`);
  assert.deepEqual(await passkeyNames(page), ['Laptop']);
  [credential] = await tab.credentials();
  assert.deepEqual(failures, []);
});

test('a signature counter that goes back is refused as a possibly cloned passkey', async () => {
  assert.ok(credential, 'needs the passkey the tests above use');
  const { page, cdp, authenticatorId } = tab;
  // The same key, its counter back at 0: what a copy made before the
  // sign-ins above would answer.
  await cdp.send('WebAuthn.removeCredential', { authenticatorId, credentialId: credential.credentialId });
  await cdp.send('WebAuthn.addCredential', { authenticatorId, credential: { ...credential, signCount: 0 } });

  assert.equal(await press(page, '#signout'), 'signed out');
  await page.fill('#signin-email', email);
  const out = await press(page, '#passkey-signin');
  assert.match(out, /^PASSKEY_POSSIBLY_CLONED: /m);
  assert.doesNotMatch(out, /signed in as/);
  assert.deepEqual(await passkeyNames(page), []);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('authd-access-token')), null);
  assert.deepEqual(failures, []);
});

test('a page on an origin that is not one of the project\'s WebAuthn origins cannot use the passkey', async () => {
  assert.ok(credential, 'needs the passkey the tests above use');
  // The same page, served from another origin the project's CORS allows
  // (so the API answers it), with a copy of the passkey: same key, id and
  // user handle, relying party "localhost" (which the browser accepts on
  // any localhost port), and a counter far ahead, so that only the origin
  // in the signed client data is wrong.
  const other = await openPasskeyPage(foreign);
  await other.cdp.send('WebAuthn.addCredential', {
    authenticatorId: other.authenticatorId,
    credential: { ...credential, signCount: 1000 },
  });
  const out = await press(other.page, '#passkey-signin');
  assert.match(out, /^INVALID_PASSKEY: /m);
  assert.doesNotMatch(out, /signed in as/);
  assert.deepEqual(await passkeyNames(other.page), []);
  // The browser did sign: the refusal is authd's.
  assert.ok((await other.credentials())[0].signCount > 1000);
  await other.page.screenshot({ path: join(output, 'passkey-other-origin.png'), fullPage: true });
  await other.context.close();
  await tab.context.close();
  assert.deepEqual(failures, []);
});
