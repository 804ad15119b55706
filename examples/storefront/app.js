// The example storefront: sign up, sign in, who am I, sign out, with the
// SDK in cookie mode. `?endpoint=…&apiKey=…` point it at an authd.
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
  run(async () => `signed in until ${(await client.customer.login(credentials())).expiresAt}`);
$('whoami').onclick = () =>
  run(async () => {
    const me = await client.customer.getCurrent();
    return me ? `signed in as ${me.email}` : 'signed out';
  });
$('signout').onclick = () =>
  run(async () => {
    await client.customer.logout();
    return 'signed out';
  });
