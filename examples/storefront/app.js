// The example storefront: sign up, sign in, who am I, sign out, and the
// account page (addresses, order history), with the SDK in cookie mode. `?endpoint=…&apiKey=…` point it at an authd.
import { StorefrontClient, StorefrontUserError } from './sdk/index.js';

const params = new URLSearchParams(location.search);
const client = new StorefrontClient({
  endpoint: params.get('endpoint') ?? 'http://localhost:4000/graphql/storefront',
  apiKey: params.get('apiKey') ?? localStorage.getItem('authd-api-key') ?? undefined,
  credentials: 'include',
});

const $ = (id) => document.getElementById(id);
const show = (text) => {
  $('out').textContent = text;
};

async function run(action) {
  try {
    show(await action());
  } catch (e) {
    show(
      e instanceof StorefrontUserError
        ? e.userErrors.map((u) => `${u.code}: ${u.message}`).join('\n')
        : `error: ${e.message}`,
    );
  }
}

const credentials = () => ({ email: $('email').value, password: $('password').value });

$('signup').onclick = () =>
  run(async () => `created ${(await client.customer.create(credentials())).email}`);
$('signin').onclick = () =>
  run(async () => {
    const r = await client.customer.login(credentials());
    // A customer with a second factor: customer.loginMfa finishes it.
    if (r.mfaRequired) return `mfa required: ${r.methods.join(', ')}`;
    return `signed in until ${r.expiresAt}`;
  });
$('whoami').onclick = () =>
  run(async () => {
    const me = await client.customer.getCurrent();
    return me ? `signed in as ${me.email}` : 'signed out';
  });
// Passkeys through the SDK (WebAuthn in this browser): added to the
// signed-in account, then a sign-in of their own (the cookie again).
$('sdk-add-passkey').onclick = () =>
  run(async () => {
    const added = await client.customer.addPasskey({ name: 'This browser' });
    const codes = added.recoveryCodes ? `, ${added.recoveryCodes.length} recovery codes` : '';
    return `passkey added: ${added.name}${codes}`;
  });
$('sdk-passkey-signin').onclick = () =>
  run(async () => {
    const email = $('email').value.trim();
    const token = await client.customer.loginWithPasskey(email ? { email } : {});
    return `signed in with a passkey until ${token.expiresAt}`;
  });
$('signout').onclick = () =>
  run(async () => {
    await client.customer.logout();
    return 'signed out';
  });

// The account page: the default address first, then the others, and the
// order history newest first.
const list = (id, title, lines) => {
  const section = $(id);
  section.replaceChildren();
  const h = document.createElement('h3');
  h.textContent = title;
  section.append(h);
  for (const line of lines) {
    const p = document.createElement('p');
    p.textContent = line;
    section.append(p);
  }
};

$('add-address').onclick = () =>
  run(async () => {
    const a = await client.customer.addresses.create({
      address1: $('address1').value,
      city: $('city').value,
      province: $('province').value || null,
      country: $('country').value,
    });
    return `address added: ${a.formatted.join(', ')}`;
  });
$('account').onclick = () =>
  run(async () => {
    const addresses = await client.customer.addresses.list({ first: 10 });
    if (!addresses) return 'signed out';
    const orders = await client.customer.orders.list({ first: 20, sortKey: 'PROCESSED_AT', reverse: true });
    const def = addresses.defaultAddress?.id;
    list('addresses', 'Addresses', addresses.nodes.map(
      (a) => `${a.id === def ? '★ ' : ''}${a.formatted.join(', ')}`,
    ));
    list('orders', `Orders (${orders.totalCount})`, orders.nodes.map(
      (o) => `${o.name} · ${o.processedAt.slice(0, 10)} · ${o.fulfillmentStatus} · ${o.totalPrice.amount} ${o.totalPrice.currencyCode}`,
    ));
    return `account: ${addresses.nodes.length} addresses, ${orders.totalCount} orders`;
  });
