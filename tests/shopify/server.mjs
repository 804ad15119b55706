// A Shopify Storefront API stand-in for tests/shopify.rs: it serves
// `customerAccessTokenCreateWithMultipass` and `customerAccessTokenRenew`
// at /api/<version>/graphql.json, and opens each Multipass token on its own,
// with Node's crypto and the shared secret, as Shopify specifies: URL-safe
// base64; the last 32 bytes an HMAC-SHA256 (second half of SHA-256 of the
// secret) of the rest; the rest a 16-byte IV and AES-128-CBC ciphertext
// (first half) of the customer's JSON, whose `created_at` must be recent.
//
// Test controls: GET /__log (every Multipass payload accepted or refused),
// POST /__mode?set=down (answer 500) | up.
//
//   node server.mjs <port> <storefront_access_token> <multipass_secret>
import { createServer } from 'node:http';
import { createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const [portArg, storefrontToken, secret] = process.argv.slice(2);
const port = Number(portArg);
if (!Number.isInteger(port) || !storefrontToken || !secret) {
  console.error('usage: node server.mjs <port> <storefront_access_token> <multipass_secret>');
  process.exit(2);
}
const keys = createHash('sha256').update(secret).digest();
const encryptionKey = keys.subarray(0, 16);
const signingKey = keys.subarray(16, 32);
const tokens = new Map(); // access token -> { email, expiresAt }
const log = [];
let down = false;

function openMultipass(token) {
  const bytes = Buffer.from(token.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (bytes.length < 16 + 16 + 32) return { error: 'too short' };
  const signed = bytes.subarray(0, bytes.length - 32);
  const signature = bytes.subarray(bytes.length - 32);
  const expected = createHmac('sha256', signingKey).update(signed).digest();
  if (!timingSafeEqual(signature, expected)) return { error: 'bad signature' };
  try {
    const decipher = createDecipheriv('aes-128-cbc', encryptionKey, signed.subarray(0, 16));
    const plain = Buffer.concat([decipher.update(signed.subarray(16)), decipher.final()]);
    const customer = JSON.parse(plain.toString('utf8'));
    const age = Date.now() - Date.parse(customer.created_at);
    if (!(age > -60_000 && age < 15 * 60_000)) return { error: 'stale created_at', customer };
    if (!customer.email) return { error: 'no email', customer };
    return { customer };
  } catch (e) {
    return { error: `does not decrypt: ${e.message}` };
  }
}

function issue(email) {
  const accessToken = `shp_${randomBytes(16).toString('hex')}`;
  const expiresAt = new Date(Date.now() + 3600_000).toISOString();
  tokens.set(accessToken, { email, expiresAt });
  return { accessToken, expiresAt };
}

function answer(query, variables) {
  if (query.includes('customerAccessTokenCreateWithMultipass')) {
    const opened = openMultipass(String(variables.t ?? ''));
    log.push(opened);
    if (opened.error) {
      return { customerAccessTokenCreateWithMultipass: {
        customerAccessToken: null,
        customerUserErrors: [{ code: 'INVALID_MULTIPASS_REQUEST', field: ['multipassToken'], message: opened.error }],
      } };
    }
    return { customerAccessTokenCreateWithMultipass: {
      customerAccessToken: issue(opened.customer.email), customerUserErrors: [],
    } };
  }
  if (query.includes('customerAccessTokenRenew')) {
    const known = tokens.get(String(variables.t ?? ''));
    if (!known) {
      return { customerAccessTokenRenew: {
        customerAccessToken: null, userErrors: [{ field: ['customerAccessToken'], message: 'access token does not exist' }],
      } };
    }
    known.expiresAt = new Date(Date.now() + 7200_000).toISOString();
    return { customerAccessTokenRenew: {
      customerAccessToken: { accessToken: String(variables.t), expiresAt: known.expiresAt }, userErrors: [],
    } };
  }
  return null;
}

createServer((req, res) => {
  const url = new URL(req.url, `http://127.0.0.1:${port}`);
  const send = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (url.pathname === '/__log') return send(200, log);
  if (url.pathname === '/__mode') {
    down = url.searchParams.get('set') === 'down';
    return send(200, { down });
  }
  let body = '';
  req.on('data', (chunk) => { body += chunk; });
  req.on('end', () => {
    if (down) return send(500, { errors: [{ message: 'internal error' }] });
    if (req.method !== 'POST' || !/^\/api\/[0-9-]+\/graphql\.json$/.test(url.pathname)) {
      return send(404, { errors: [{ message: 'not found' }] });
    }
    if (req.headers['x-shopify-storefront-access-token'] !== storefrontToken) {
      return send(401, { errors: [{ message: 'invalid storefront access token' }] });
    }
    let request;
    try { request = JSON.parse(body); } catch { return send(400, { errors: [{ message: 'bad JSON' }] }); }
    const data = answer(String(request.query ?? ''), request.variables ?? {});
    if (!data) return send(200, { errors: [{ message: 'unsupported operation' }] });
    return send(200, { data });
  });
}).listen(port, '127.0.0.1', () => console.log(`READY http://127.0.0.1:${port}`));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
