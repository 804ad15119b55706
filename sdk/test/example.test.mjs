// The SDK against a real `authd dev` (started by tests/sdk.rs, which sets
// AUTHD_ENDPOINT, AUTHD_API_KEY and AUTHD_OUTBOX).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// By its package name, as the document's example imports it.
import {
  StorefrontClient,
  StorefrontUserError,
  StorefrontTransportError,
  StorefrontError,
} from '@authd/storefront-sdk';

const endpoint = process.env.AUTHD_ENDPOINT;
const apiKey = process.env.AUTHD_API_KEY;
if (!endpoint || !apiKey) {
  throw new Error('run through tests/sdk.rs: AUTHD_ENDPOINT and AUTHD_API_KEY are unset');
}
const unique = () => `c${Date.now()}${Math.floor(Math.random() * 1e6)}@example.com`;

test("the document's example runs as written (endpoint for storeDomain)", async () => {
  process.env.FINQU_STOREFRONT_API_KEY = apiKey;
  const email = unique();
  // ---- the document's example, with our package name ----
  const client = new StorefrontClient({
    endpoint, // for local dev; storeDomain in production
    apiKey: process.env.FINQU_STOREFRONT_API_KEY, // Required: API key from Channel settings
  });

  // Register a new customer
  const customer = await client.customer.create({
    email,
    password: 'secure-password',
    firstName: 'John',
    lastName: 'Doe',
  });

  // Login
  const session = await client.customer.login({
    email,
    password: 'secure-password',
  });

  // Use authenticated requests
  client.setAccessToken(session.accessToken);
  const currentCustomer = await client.customer.getCurrent();
  // ---- end of the example ----
  assert.equal(customer.email, email);
  assert.equal(customer.displayName, 'John Doe');
  assert.equal(typeof session.accessToken, 'string');
  assert.ok(Date.parse(session.expiresAt) > Date.now() + 29 * 86400_000);
  assert.deepEqual(currentCustomer, customer);
});

test('a refused operation throws StorefrontUserError with field, message and code', async () => {
  const client = new StorefrontClient({ endpoint, apiKey });
  const email = unique();
  await client.customer.create({ email, password: 'secure-password' });
  await assert.rejects(client.customer.create({ email, password: 'secure-password' }), (e) => {
    assert.ok(e instanceof StorefrontUserError);
    assert.ok(e instanceof StorefrontError && e instanceof Error);
    assert.deepEqual(e.userErrors.map((u) => [u.field, u.code]), [[['input', 'email'], 'TAKEN']]);
    assert.match(e.userErrors[0].message, /already exists/);
    return true;
  });
  await assert.rejects(client.customer.login({ email, password: 'wrong password' }), (e) => {
    assert.ok(e instanceof StorefrontUserError);
    assert.equal(e.userErrors[0].code, 'UNIDENTIFIED_CUSTOMER');
    return true;
  });
  await assert.rejects(client.customer.create({ email: '', password: ' x' }), (e) => {
    assert.deepEqual(e.userErrors.map((u) => u.code).sort(), ['BLANK', 'PASSWORD_STARTS_OR_ENDS_WITH_WHITESPACE']);
    return true;
  });
});

test('transport failures throw StorefrontTransportError, not a user error', async () => {
  const badKey = new StorefrontClient({ endpoint, apiKey: 'pk_test_not_a_key' });
  await assert.rejects(badKey.customer.getCurrent(), (e) => {
    assert.ok(e instanceof StorefrontTransportError && !(e instanceof StorefrontUserError));
    assert.equal(e.status, 401);
    assert.equal(e.code, 'INVALID_API_KEY');
    return true;
  });
  const nowhere = new StorefrontClient({ endpoint: 'http://127.0.0.1:9/graphql/storefront', apiKey });
  await assert.rejects(nowhere.customer.getCurrent(), StorefrontTransportError);
  assert.throws(() => new StorefrontClient({ endpoint, apiKey: undefined }), StorefrontError);
});

test('storeDomain means https://<domain>/graphql/storefront', async () => {
  const seen = [];
  const fetch = async (url, init) => {
    seen.push([url, init.headers['x-api-key']]);
    return new Response(JSON.stringify({ data: { customer: null } }), { status: 200 });
  };
  const client = new StorefrontClient({ storeDomain: 'your-store.example', apiKey, fetch });
  assert.equal(await client.customer.getCurrent(), null);
  assert.deepEqual(seen, [['https://your-store.example/graphql/storefront', apiKey]]);
});

test('renew, update, logout, recover and resetByUrl', async () => {
  const client = new StorefrontClient({ endpoint, apiKey });
  const email = unique();
  await client.customer.create({ email, password: 'secure-password', phone: '+16135551111' });
  const first = await client.customer.login({ email, password: 'secure-password' });
  client.setAccessToken(first.accessToken);
  const renewed = await client.customer.renew();
  assert.equal(renewed.accessToken, first.accessToken);

  const updated = await client.customer.update({ firstName: 'Ann', phone: null, acceptsMarketing: true });
  assert.deepEqual([updated.firstName, updated.phone, updated.acceptsMarketing], ['Ann', null, true]);
  // A new password: the client moves to the new token; the old one is dead.
  await client.customer.update({ password: 'another-password' });
  assert.notEqual(client.getAccessToken(), first.accessToken);
  assert.equal((await client.customer.getCurrent()).firstName, 'Ann');
  const stale = new StorefrontClient({ endpoint, apiKey });
  stale.setAccessToken(first.accessToken);
  assert.equal(await stale.customer.getCurrent(), null);

  await client.customer.logout();
  assert.equal(client.getAccessToken(), null);
  assert.equal(await client.customer.getCurrent(), null);

  await client.customer.recover(email);
  await client.customer.recover(unique()); // the same answer for nobody
  const link = await mailedLink(email);
  const reset = await client.customer.resetByUrl(link, 'a third password');
  assert.equal(reset.customer.email, email);
  assert.equal(client.getAccessToken(), reset.accessToken.accessToken);
  assert.equal((await client.customer.getCurrent()).email, email);
  await assert.rejects(client.customer.resetByUrl(link, 'a fourth password'), (e) => {
    assert.equal(e.userErrors[0].code, 'TOKEN_INVALID');
    return true;
  });
});

/** The reset link in the newest mail to `to` in authd dev's outbox. */
async function mailedLink(to) {
  const outbox = process.env.AUTHD_OUTBOX;
  for (let i = 0; i < 100; i++) {
    for (const name of readdirSync(outbox).sort().reverse()) {
      // Quoted-printable: soft line breaks and =XX escapes.
      const text = readFileSync(join(outbox, name), 'utf8')
        .replace(/=\r?\n/g, '')
        .replace(/=([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
      const link = text.match(/https?:\/\/\S+\/reset\?token=[\w.\-]+/);
      if (text.includes(to) && link) return link[0];
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no reset mail to ${to} in ${outbox}`);
}

test('customer.addresses: create, list, update, setDefault, delete, and refusals with codes', async () => {
  const client = new StorefrontClient({ endpoint, apiKey });
  const email = unique();
  await client.customer.create({ email, password: 'secure-password' });
  const session = await client.customer.login({ email, password: 'secure-password' });
  client.setAccessToken(session.accessToken);

  const home = await client.customer.addresses.create({
    address1: '1 Main St', city: 'Ottawa', province: 'Ontario', country: 'Canada', zip: 'K1A 0B1',
  });
  assert.match(home.id, /^gid:\/\/authd\/MailingAddress\//);
  assert.equal(home.provinceCode, 'ON');
  assert.equal(home.countryCodeV2, 'CA');
  assert.deepEqual(home.formatted, ['1 Main St', 'Ottawa ON K1A 0B1', 'Canada']);
  const work = await client.customer.addresses.create({ city: 'Berlin', country: 'DE' });

  let list = await client.customer.addresses.list();
  assert.deepEqual(list.nodes.map((a) => a.id), [home.id, work.id]);
  assert.equal(list.defaultAddress.id, home.id);
  const newest = await client.customer.addresses.list({ first: 1, reverse: true });
  assert.deepEqual(newest.nodes.map((a) => a.id), [work.id]);
  assert.equal(newest.pageInfo.hasNextPage, true);

  const moved = await client.customer.addresses.update(encodeURIComponent(work.id), { city: 'Bonn' });
  assert.equal(moved.city, 'Bonn');
  assert.equal(moved.country, 'Germany');
  await client.customer.addresses.setDefault(work.id);
  list = await client.customer.addresses.list();
  assert.equal(list.defaultAddress.id, work.id);
  await client.customer.addresses.delete(work.id);
  list = await client.customer.addresses.list();
  assert.deepEqual(list.nodes.map((a) => a.id), [home.id]);
  assert.equal(list.defaultAddress.id, home.id);

  await assert.rejects(
    client.customer.addresses.create({ country: 'Atlantis' }),
    (e) => e instanceof StorefrontUserError &&
      e.userErrors[0].code === 'INVALID' &&
      JSON.stringify(e.userErrors[0].field) === '["address","country"]',
  );
  await assert.rejects(
    client.customer.addresses.delete(work.id),
    (e) => e instanceof StorefrontUserError && e.userErrors[0].code === 'NOT_FOUND',
  );
  await assert.rejects(
    client.customer.addresses.list({ first: 251 }),
    (e) => e instanceof StorefrontTransportError && e.code === 'BAD_REQUEST',
  );
});

test('customer.orders: list with sort, search and paging, and all() across pages', async () => {
  // Orders come from the shop's backend: recorded here through the admin API.
  const adminKey = process.env.AUTHD_ADMIN_KEY;
  assert.ok(adminKey, 'tests/sdk.rs sets AUTHD_ADMIN_KEY');
  const client = new StorefrontClient({ endpoint, apiKey });
  const email = unique();
  const created = await client.customer.create({ email, password: 'secure-password' });
  client.setAccessToken((await client.customer.login({ email, password: 'secure-password' })).accessToken);
  const admin = endpoint.replace('/graphql/storefront', '/graphql/admin');
  for (let n = 1; n <= 7; n++) {
    const r = await fetch(admin, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
      body: JSON.stringify({
        query: 'mutation R($i: OrderRecordInput!) { orderRecord(input: $i) { success errors { message } } }',
        variables: { i: {
          customerId: created.id, externalId: `${email}-${n}`, name: `#${100 + n}`,
          processedAt: `2026-02-0${n}T12:00:00Z`, currencyCode: 'EUR', totalPrice: `${n}0.00`,
          financialStatus: n % 2 ? 'PAID' : 'PENDING',
          lineItems: [{ title: 'Book', quantity: n, price: '10.00',
            discountAllocations: n === 1 ? [{ amount: '1.00', discountApplicationIndex: 0 }] : [] }],
          discountApplications: n === 1 ? [{ kind: 'DISCOUNT_CODE', code: 'SPRING', percentage: '10' }] : [],
        } },
      }),
    });
    const body = await r.json();
    assert.equal(body.data.orderRecord.success, true, JSON.stringify(body));
  }
  const newest = await client.customer.orders.list({ first: 3, sortKey: 'PROCESSED_AT', reverse: true });
  assert.deepEqual(newest.nodes.map((o) => o.name), ['#107', '#106', '#105']);
  assert.equal(newest.totalCount, 7);
  assert.equal(newest.pageInfo.hasNextPage, true);
  assert.deepEqual(newest.nodes[0].totalPrice, { amount: '70.00', currencyCode: 'EUR' });
  assert.deepEqual(newest.nodes[0].lineItems[0].originalTotalPrice, { amount: '70.00', currencyCode: 'EUR' });
  const [first] = (await client.customer.orders.list({ first: 1 })).nodes;
  assert.equal(first.name, '#101');
  assert.deepEqual(first.discountApplications.map((d) => [d.kind, d.code, d.value]), [
    ['DiscountCodeApplication', 'SPRING', { percentage: 10 }],
  ]);
  assert.deepEqual(first.lineItems[0].discountedTotalPrice, { amount: '9.00', currencyCode: 'EUR' });
  assert.equal(first.lineItems[0].discountAllocations[0].discountApplication.code, 'SPRING');
  const paid = await client.customer.orders.list({ query: 'financial_status:paid' });
  assert.deepEqual(paid.nodes.map((o) => o.name), ['#101', '#103', '#105', '#107']);
  const names = [];
  for await (const o of client.customer.orders.all({ first: 2 })) {
    names.push(o.name);
  }
  assert.deepEqual(names, ['#101', '#102', '#103', '#104', '#105', '#106', '#107']);
  await assert.rejects(
    client.customer.orders.list({ query: 'total:>5' }),
    (e) => e instanceof StorefrontTransportError && e.code === 'BAD_REQUEST',
  );
});

test('customer.metafields: get and set the keys the project declares, refusals with paths', async () => {
  const adminKey = process.env.AUTHD_ADMIN_KEY;
  assert.ok(adminKey, 'tests/sdk.rs sets AUTHD_ADMIN_KEY');
  const admin = endpoint.replace('/graphql/storefront', '/graphql/admin');
  const r = await fetch(admin, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
    body: JSON.stringify({
      query: 'mutation C($i: ProjectConfigInput!) { projectConfigure(input: $i) { success errors { message } } }',
      variables: { i: { customerMetafields: [
        { namespace: 'custom', key: 'birthday', type: 'date', access: 'READ_WRITE' },
        { namespace: 'custom', key: 'tier', type: 'single_line_text_field', access: 'READ' },
      ] } },
    }),
  });
  const body = await r.json();
  assert.equal(body.data.projectConfigure.success, true, JSON.stringify(body));

  const client = new StorefrontClient({ endpoint, apiKey });
  assert.equal(await client.customer.metafields.get([{ key: 'birthday' }]), null, 'signed out');
  const email = unique();
  await client.customer.create({ email, password: 'secure-password' });
  client.setAccessToken((await client.customer.login({ email, password: 'secure-password' })).accessToken);

  assert.deepEqual(await client.customer.metafields.get([{ key: 'birthday' }, { key: 'tier' }]), [null, null]);
  const [saved] = await client.customer.metafields.set([{ key: 'birthday', value: '1990-04-01' }]);
  assert.equal(saved.namespace, 'custom');
  assert.equal(saved.type, 'date');
  assert.match(saved.id, /^gid:\/\/authd\/Metafield\//);
  const [read, none] = await client.customer.metafields.get([
    { namespace: 'custom', key: 'birthday' }, { key: 'undeclared' },
  ]);
  assert.equal(read.value, '1990-04-01');
  assert.equal(none, null);
  await assert.rejects(
    client.customer.metafields.set([{ key: 'tier', value: 'gold' }]),
    (e) => e instanceof StorefrontUserError &&
      e.userErrors[0].code === 'INVALID' &&
      JSON.stringify(e.userErrors[0].field) === '["metafields","0","key"]',
  );
  await assert.rejects(
    client.customer.metafields.set([{ key: 'birthday', value: 'soon' }]),
    (e) => e instanceof StorefrontUserError &&
      JSON.stringify(e.userErrors[0].field) === '["metafields","0","value"]',
  );
});

// RFC 6238 (HMAC-SHA-1, 6 digits, 30 s) for the test's authenticator.
import { createHmac } from 'node:crypto';
function totp(base32, atSeconds) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(atSeconds / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const at = mac[19] & 0xf;
  const n = (mac.readUInt32BE(at) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, '0');
}

test('a customer with an authenticator app signs in in two steps', async () => {
  // RFC 6238 appendix B, T = 59: 94287082 (8 digits), so 287082.
  assert.equal(totp('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 59), '287082');
  const email = unique();
  // The app is added through the Customer Auth API (a signed-in customer).
  const pub = endpoint.replace(/\/graphql\/storefront$/, '/graphql/public');
  const call = async (query, variables, bearer) => {
    const headers = { 'content-type': 'application/json', 'x-api-key': apiKey };
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    const r = await fetch(pub, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
    return (await r.json()).data;
  };
  const reg = await call(
    'mutation R($e: String!, $p: String!) { customerRegister(email: $e, password: $p) { accessToken } }',
    { e: email, p: 'secure-password' },
  );
  const bearer = reg.customerRegister.accessToken;
  const enrolled = await call('mutation { customerTotpEnroll { secret } }', {}, bearer);
  const secret = enrolled.customerTotpEnroll.secret;
  const now = Math.floor(Date.now() / 1000);
  const confirmed = await call(
    'mutation C($c: String!) { customerTotpConfirm(code: $c) { success recoveryCodes } }',
    { c: totp(secret, now) },
    bearer,
  );
  assert.equal(confirmed.customerTotpConfirm.success, true);

  const client = new StorefrontClient({ endpoint, apiKey });
  const first = await client.customer.login({ email, password: 'secure-password' });
  assert.equal(first.mfaRequired, true);
  assert.equal(first.accessToken, null);
  assert.deepEqual(first.methods, ['TOTP', 'RECOVERY_CODE']);
  await assert.rejects(
    client.customer.loginMfa({ mfaToken: first.mfaToken, totp: '000000' }),
    (e) => e instanceof StorefrontUserError && e.userErrors[0].code === 'INVALID',
  );
  // The next step's code: the confirming one is spent (RFC 6238 §5.2).
  const session = await client.customer.loginMfa({ mfaToken: first.mfaToken, totp: totp(secret, now + 30) });
  assert.equal(typeof session.accessToken, 'string');
  client.setAccessToken(session.accessToken);
  assert.equal((await client.customer.getCurrent()).email, email);
  // A recovery code works once.
  const again = await client.customer.login({ email, password: 'secure-password' });
  const code = confirmed.customerTotpConfirm.recoveryCodes[0];
  assert.equal(typeof (await client.customer.loginMfa({ mfaToken: again.mfaToken, recoveryCode: code })).accessToken, 'string');
  const third = await client.customer.login({ email, password: 'secure-password' });
  await assert.rejects(client.customer.loginMfa({ mfaToken: third.mfaToken, recoveryCode: code }), StorefrontUserError);
});
