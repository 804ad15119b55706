// A real OpenID Provider for tests/providers.rs: panva's certified
// oidc-provider on 127.0.0.1, one confidential client, PKCE required, its
// dev interactions (any password; the login name becomes `sub`, and the
// email too when it has an `@`; `email_verified` is false for names that
// start with "unverified").
//
// A test can make it misbehave, to prove authd refuses what it must:
// `POST /__mode?set=<mode>` makes the next token answers carry an ID token
// re-signed with the claims changed: `wrong-aud`, `wrong-nonce`,
// `wrong-issuer`, `expired`, or signed by a key the provider never
// published (`other-key`); `honest` restores it.
//
//   node server.mjs <port> <redirect_uri> [client_id] [client_secret]
import { Provider } from 'oidc-provider';
import { SignJWT, decodeJwt, exportJWK, generateKeyPair } from 'jose';

const [portArg, redirectUri, clientId = 'authd-test', clientSecret = 'authd-test-secret'] =
  process.argv.slice(2);
const port = Number(portArg);
if (!Number.isInteger(port) || !redirectUri) {
  console.error('usage: node server.mjs <port> <redirect_uri> [client_id] [client_secret]');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

const signing = await generateKeyPair('RS256', { extractable: true });
const published = { ...(await exportJWK(signing.privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
const unpublished = await generateKeyPair('RS256');

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  jwks: { keys: [published] },
  pkce: { required: () => true },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  conformIdTokenClaims: false,
  cookies: { keys: ['authd-test-cookie-key'] },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          email: sub.includes('@') ? sub : `${sub}@example.test`,
          email_verified: !sub.startsWith('unverified'),
        };
      },
    };
  },
});

let mode = 'honest';
provider.use(async (ctx, next) => {
  if (ctx.path === '/__mode' && ctx.method === 'POST') {
    mode = String(ctx.query.set);
    ctx.body = { mode };
    return;
  }
  await next();
  if (ctx.path === '/token' && mode !== 'honest' && ctx.body && ctx.body.id_token) {
    const claims = decodeJwt(ctx.body.id_token);
    let key = signing.privateKey;
    if (mode === 'wrong-aud') claims.aud = 'someone-else';
    if (mode === 'wrong-nonce') claims.nonce = 'not-the-nonce';
    if (mode === 'wrong-issuer') claims.iss = 'http://127.0.0.1:1';
    if (mode === 'expired') claims.exp = Math.floor(Date.now() / 1000) - 600;
    if (mode === 'other-key') key = unpublished.privateKey;
    const idToken = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
      .sign(key);
    ctx.body = { ...ctx.body, id_token: idToken };
  }
});

for (const ev of ['server_error', 'authorization.error', 'grant.error']) {
  provider.on(ev, (ctx, err) => console.error(`[oidc] ${ev}: ${err?.message} ${err?.error_description ?? ''}`));
}
provider.listen(port, '127.0.0.1', () => console.log(`READY ${issuer}`));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
