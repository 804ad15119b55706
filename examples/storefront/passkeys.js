// The passkeys example: sign up / sign in with a password, add passkeys to
// the account, list and remove them, and sign in with a passkey, by email
// or with a discoverable credential. No SDK: plain fetch against the
// Customer Auth API (`/graphql/public`), with the access token as a bearer
// header (no cookies), kept in this tab's sessionStorage.
// `?endpoint=…&apiKey=…` point it at an authd.

const params = new URLSearchParams(location.search);
const endpoint = params.get('endpoint') ?? 'http://localhost:4000/graphql/public';
const apiKey = params.get('apiKey') ?? localStorage.getItem('authd-api-key') ?? '';
const TOKEN = 'authd-access-token';

const $ = (id) => document.getElementById(id);
const show = (text) => {
  $('out').textContent = text;
};

// --- base64url <-> ArrayBuffer -------------------------------------------
// WebAuthn hands out and takes ArrayBuffers; authd's options and the
// credentials it checks carry them as base64url strings without padding.

/** base64url (or plain base64, padded or not) → ArrayBuffer. */
function fromBase64url(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
}

/** ArrayBuffer (or a view of one) → base64url without padding. */
function toBase64url(buffer) {
  const bytes = buffer instanceof ArrayBuffer ? new Uint8Array(buffer)
    : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// --- the Customer Auth API ---------------------------------------------------

/** A GraphQL error (no `data`): `CODE: message`, the code from `extensions`. */
class ApiError extends Error {}

/** A mutation's `errors { field message code }`, shown as `CODE: message` lines. */
class UserErrors extends Error {
  constructor(errors) {
    super(errors.length ? errors.map((e) => `${e.code}: ${e.message}`).join('\n') : 'FAILED: no reason given');
  }
}

/** POSTs `{query, variables}`; signed in when this tab holds an access token,
 * unless `anonymous` (the sign-in mutations: the current session, if any,
 * stays until a new one replaces it). */
async function gql(query, variables = {}, { anonymous = false } = {}) {
  const headers = { 'content-type': 'application/json', 'x-api-key': apiKey };
  const token = sessionStorage.getItem(TOKEN);
  if (token && !anonymous) headers.authorization = `Bearer ${token}`;
  const response = await fetch(endpoint, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`HTTP_${response.status}: not a GraphQL answer`);
  }
  if (body.errors?.length) {
    throw new ApiError(body.errors.map((e) => `${e.extensions?.code ?? 'ERROR'}: ${e.message}`).join('\n'));
  }
  return body.data;
}

/** The payload of mutation `field`, or its user errors thrown. */
async function mutate(field, query, variables, options) {
  const payload = (await gql(query, variables, options))[field];
  if (!payload.success) throw new UserErrors(payload.errors ?? []);
  return payload;
}

const ERRORS = 'errors { field message code }';

/** The options of a `…Start` mutation: a JSON scalar (tolerate it as a string too). */
const optionsOf = (payload) => (typeof payload.options === 'string' ? JSON.parse(payload.options) : payload.options);

/** A copy of `value` without null members: absent optional fields may come as
 * `null`, which WebIDL would turn into `"null"` or 0 instead of "not given". */
function withoutNulls(value) {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => [k, withoutNulls(v)]),
  );
}

const descriptors = (list) => (list ?? []).map((c) => ({ ...c, id: fromBase64url(c.id) }));

// --- options in, credentials out ---------------------------------------------

/** `customerPasskeyRegisterStart`'s options → what `navigator.credentials.create` takes. */
function creationOptions(options) {
  const publicKey = withoutNulls(options.publicKey);
  return {
    publicKey: {
      ...publicKey,
      challenge: fromBase64url(publicKey.challenge),
      user: { ...publicKey.user, id: fromBase64url(publicKey.user.id) },
      excludeCredentials: descriptors(publicKey.excludeCredentials),
    },
  };
}

/** `customerPasskeyLoginStart`'s options → what `navigator.credentials.get` takes.
 * Only `publicKey`: a `mediation` the options may carry ("conditional", for
 * autofill UI) is dropped, since this page asks on a button press. */
function requestOptions(options) {
  const publicKey = withoutNulls(options.publicKey);
  return {
    publicKey: {
      ...publicKey,
      challenge: fromBase64url(publicKey.challenge),
      allowCredentials: descriptors(publicKey.allowCredentials),
    },
  };
}

/** A new credential (from `create`) as the JSON `customerPasskeyRegisterFinish` takes. */
function registrationJSON(credential) {
  const r = credential.response;
  return {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    response: {
      attestationObject: toBase64url(r.attestationObject),
      clientDataJSON: toBase64url(r.clientDataJSON),
      transports: r.getTransports?.() ?? [],
    },
    extensions: {},
  };
}

/** An assertion (from `get`) as the JSON `customerPasskeyLoginFinish` takes. */
function assertionJSON(credential) {
  const r = credential.response;
  return {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    response: {
      authenticatorData: toBase64url(r.authenticatorData),
      clientDataJSON: toBase64url(r.clientDataJSON),
      signature: toBase64url(r.signature),
      userHandle: r.userHandle ? toBase64url(r.userHandle) : null,
    },
    extensions: {},
  };
}

// --- the page ------------------------------------------------------------------

/** Runs a button's action and shows what it returned, or why it failed. */
async function run(action) {
  try {
    show(await action());
  } catch (e) {
    if (e instanceof UserErrors || e instanceof ApiError) show(e.message);
    // The browser's own refusals: NotAllowedError (cancelled, timed out),
    // InvalidStateError (this authenticator already holds a passkey here)…
    else if (e instanceof DOMException) show(`error: ${e.name}: ${e.message}`);
    else show(`error: ${e.message}`);
  }
}

/** Keeps a sign-in's access token for this tab. */
function signedIn(payload) {
  if (!payload.accessToken) throw new Error('signed in, but no access token came back');
  sessionStorage.setItem(TOKEN, payload.accessToken);
}

const PASSKEY = 'id name createdAt lastUsedAt';
const ME = `query { currentUser { id email mfa { passkeys { ${PASSKEY} } } } }`;

/** The signed-in customer (null when signed out), and their passkeys listed. */
async function refresh() {
  const me = sessionStorage.getItem(TOKEN) ? (await gql(ME)).currentUser : null;
  const list = $('passkeys');
  list.replaceChildren();
  for (const p of me?.mfa?.passkeys ?? []) {
    const item = document.createElement('li');
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = p.name ?? '(unnamed)';
    const when = document.createElement('span');
    when.className = 'when';
    when.textContent = ` · added ${p.createdAt.slice(0, 10)} · last used ${p.lastUsedAt ? p.lastUsedAt.slice(0, 16).replace('T', ' ') : 'never'} `;
    const remove = document.createElement('button');
    remove.className = 'remove';
    remove.textContent = 'Remove';
    remove.onclick = () =>
      run(async () => {
        await mutate('customerPasskeyRemove',
          `mutation R($id: ID!) { customerPasskeyRemove(id: $id) { success ${ERRORS} } }`, { id: p.id });
        await refresh();
        return `passkey removed: ${name.textContent}`;
      });
    item.append(name, when, remove);
    list.append(item);
  }
  return me;
}

const credentials = () => ({ email: $('email').value, password: $('password').value });

$('signup').onclick = () =>
  run(async () => {
    const r = await mutate('customerRegister',
      `mutation S($email: String!, $password: String!) {
         customerRegister(email: $email, password: $password) { success accessToken refreshToken ${ERRORS} } }`,
      credentials(), { anonymous: true });
    // A project that requires a verified email signs nobody in yet.
    if (!r.accessToken) return `created ${$('email').value}: verify the email address, then sign in`;
    signedIn(r);
    const me = await refresh();
    return `created ${me?.email ?? '?'}`;
  });

$('signin').onclick = () =>
  run(async () => {
    const r = await mutate('customerLogin',
      `mutation L($email: String!, $password: String!) {
         customerLogin(email: $email, password: $password) {
           success accessToken refreshToken mfaRequired mfaToken mfaMethods ${ERRORS} } }`,
      credentials(), { anonymous: true });
    if (r.mfaRequired) {
      // The password held and the account has a second factor: this page
      // answers it with a passkey (an app's code or a recovery code would
      // go to customerLoginMfa the same way).
      if (!(r.mfaMethods ?? []).includes('PASSKEY')) {
        return `second factor required: ${(r.mfaMethods ?? []).join(', ')}`;
      }
      const start = await mutate('customerPasskeyLoginStart',
        `mutation S($email: String) { customerPasskeyLoginStart(email: $email) { success options ${ERRORS} } }`,
        { email: $('email').value }, { anonymous: true });
      const assertion = await navigator.credentials.get(requestOptions(optionsOf(start)));
      const second = await mutate('customerLoginMfa',
        `mutation M($token: String!, $response: JSON) {
           customerLoginMfa(mfaToken: $token, passkeyResponse: $response) {
             success accessToken refreshToken ${ERRORS} } }`,
        { token: r.mfaToken, response: assertionJSON(assertion) }, { anonymous: true });
      signedIn(second);
      const me = await refresh();
      return `signed in as ${me?.email ?? '?'} (second factor: a passkey)`;
    }
    signedIn(r);
    const me = await refresh();
    return `signed in as ${me?.email ?? '?'}`;
  });

$('signout').onclick = () =>
  run(async () => {
    if (sessionStorage.getItem(TOKEN)) {
      // Ends the session at authd; the token is forgotten even if the
      // session had already ended (expired, or revoked elsewhere).
      await mutate('customerLogout', `mutation { customerLogout { success ${ERRORS} } }`).catch(() => {});
    }
    sessionStorage.removeItem(TOKEN);
    await refresh();
    return 'signed out';
  });

$('add-passkey').onclick = () =>
  run(async () => {
    if (!sessionStorage.getItem(TOKEN)) return 'sign in first';
    const start = await mutate('customerPasskeyRegisterStart',
      `mutation { customerPasskeyRegisterStart { success options ${ERRORS} } }`);
    const credential = await navigator.credentials.create(creationOptions(optionsOf(start)));
    const finish = await mutate('customerPasskeyRegisterFinish',
      `mutation F($response: JSON!, $name: String) {
         customerPasskeyRegisterFinish(response: $response, name: $name) {
           success passkey { ${PASSKEY} } recoveryCodes ${ERRORS} } }`,
      { response: registrationJSON(credential), name: $('passkey-name').value.trim() || null });
    // A first second factor comes with recovery codes, shown this once.
    const codes = $('recovery-codes');
    codes.hidden = !finish.recoveryCodes;
    codes.textContent = finish.recoveryCodes
      ? `Recovery codes (keep them safe; each works once):\n${finish.recoveryCodes.join('\n')}`
      : '';
    await refresh();
    return `passkey added: ${finish.passkey?.name ?? '(unnamed)'}`;
  });

$('passkey-signin').onclick = () =>
  run(async () => {
    // No email (or one authd does not know): no allowCredentials, and the
    // authenticator offers the passkeys it holds for this site.
    const email = $('signin-email').value.trim() || null;
    const start = await mutate('customerPasskeyLoginStart',
      `mutation S($email: String) { customerPasskeyLoginStart(email: $email) { success options ${ERRORS} } }`,
      { email }, { anonymous: true });
    const assertion = await navigator.credentials.get(requestOptions(optionsOf(start)));
    const finish = await mutate('customerPasskeyLoginFinish',
      `mutation F($response: JSON!) {
         customerPasskeyLoginFinish(response: $response) { success accessToken refreshToken ${ERRORS} } }`,
      { response: assertionJSON(assertion) }, { anonymous: true });
    signedIn(finish);
    // Ask authd who the new token belongs to.
    const me = await refresh();
    return `signed in as ${me?.email ?? '?'}`;
  });

// A tab that already holds a token shows its passkeys.
if (sessionStorage.getItem(TOKEN)) run(async () => `signed in as ${(await refresh())?.email ?? '?'}`);
