// A real OpenID Connect provider for tests: `oidc-provider` (npm) over HTTPS on loopback,
// configured from a JSON file (argv[2]) that crates/testkit/src/oidc.rs writes:
//   { "port", "cert", "key", "clients": [{client_id, client_secret, redirect_uris}],
//     "users": [{ "username", "password", "claims": { sub, oid, upn, email, ... } }] }
// People sign in at /interaction/<uid> with a plain HTML form (the browser fills it);
// consent is granted for them (a first-party client). Prints READY <issuer> when it
// listens.
//
// For refusal tests the provider can be told to misbehave on its token endpoint:
// POST /__test/mode with body `honest`, `wrong_audience`, `wrong_signature`, `expired`
// or `replay` (the previous ID token again). It changes only what a broken or hostile
// provider would: the provider's own signing key signs the altered token, except for
// `wrong_signature`, where a key the JWKS does not publish signs it.
import fs from 'node:fs';
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const issuer = `https://127.0.0.1:${config.port}`;

const signing = await jose.generateKeyPair('RS256', { extractable: true });
const rogue = await jose.generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await jose.exportJWK(signing.privateKey)), kid: 'test-key-1', use: 'sig', alg: 'RS256' };

const users = new Map(config.users.map((u) => [u.claims.sub, u]));
const byName = new Map(config.users.map((u) => [u.username, u]));

let mode = 'honest';
let lastIdToken = null;

const provider = new Provider(issuer, {
  clients: config.clients.map((c) => ({
    client_id: c.client_id,
    client_secret: c.client_secret,
    redirect_uris: c.redirect_uris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  })),
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username', 'upn', 'oid', 'groups'],
  },
  conformIdTokenClaims: false,
  ttl: { IdToken: 600, AccessToken: 600, AuthorizationCode: 60, Session: 3600, Interaction: 600, Grant: 3600 },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const user = users.get(id);
    if (!user) return undefined;
    return { accountId: id, claims: async () => ({ ...user.claims, sub: id }) };
  },
  async loadExistingGrant(ctx) {
    const clientId = ctx.oidc.client.clientId;
    const accountId = ctx.oidc.session.accountId;
    const existing = ctx.oidc.session.grantIdFor(clientId);
    if (existing) return ctx.oidc.provider.Grant.find(existing);
    const grant = new ctx.oidc.provider.Grant({ clientId, accountId });
    grant.addOIDCScope('openid email profile');
    grant.addOIDCClaims(['sub', 'email', 'email_verified', 'name', 'preferred_username', 'upn', 'oid']);
    await grant.save();
    ctx.oidc.session.ensureClientContainer(clientId);
    ctx.oidc.session.grantIdFor(clientId, grant.jti);
    return grant;
  },
});

async function tamper(idToken) {
  const payload = jose.decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  let key = signing.privateKey;
  switch (mode) {
    case 'wrong_audience':
      payload.aud = 'some-other-client';
      break;
    case 'wrong_signature':
      key = rogue.privateKey;
      break;
    case 'expired':
      payload.iat = now - 7200;
      payload.exp = now - 3600;
      break;
    case 'replay':
      return lastIdToken ?? idToken;
    default:
      return idToken;
  }
  return new jose.SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: 'test-key-1', typ: 'JWT' }).sign(key);
}

provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/token' && ctx.status === 200 && ctx.body && ctx.body.id_token) {
    const honest = ctx.body.id_token;
    ctx.body = { ...ctx.body, id_token: await tamper(honest) };
    lastIdToken = honest;
  }
});

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginForm(uid, error) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test identity provider: sign in</title>
<style>body{font-family:sans-serif;max-width:28em;margin:3em auto}label{display:block;margin-top:1em}
input{font-size:1.1em;width:100%}button{margin-top:1.5em;font-size:1.1em}.error{color:#b00}</style></head>
<body><h1>Test identity provider</h1>${error ? `<p class="error" id="login-error">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login" autocomplete="off">
<label for="username">User name</label><input id="username" name="username" required>
<label for="password">Password</label><input id="password" name="password" type="password" required>
<button type="submit" id="sign-in">Sign in</button></form></body></html>`;
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
      if (body.length > 65536) reject(new Error('form too large'));
    });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

const callback = provider.callback();
const server = https.createServer(
  { cert: fs.readFileSync(config.cert), key: fs.readFileSync(config.key) },
  async (req, res) => {
    try {
      const url = new URL(req.url, issuer);
      if (url.pathname === '/__test/mode' && req.method === 'POST') {
        let body = '';
        for await (const d of req) body += d;
        mode = body.trim() || 'honest';
        res.writeHead(204).end();
        return;
      }
      const m = url.pathname.match(/^\/interaction\/([^/]+)(\/login)?$/);
      if (m) {
        const details = await provider.interactionDetails(req, res);
        if (details.prompt.name !== 'login') {
          // Consent is preloaded by loadExistingGrant; anything else just continues.
          await provider.interactionFinished(req, res, {}, { mergeWithLastSubmission: true });
          return;
        }
        if (!m[2]) {
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(loginForm(m[1]));
          return;
        }
        const form = await readForm(req);
        const user = byName.get(form.get('username') ?? '');
        if (!user || user.password !== form.get('password')) {
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(loginForm(m[1], 'Wrong user name or password.'));
          return;
        }
        await provider.interactionFinished(req, res, { login: { accountId: user.claims.sub } }, { mergeWithLastSubmission: false });
        return;
      }
      callback(req, res);
    } catch (err) {
      console.error(err);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`provider error: ${err.message}`);
    }
  },
);
server.listen(config.port, '127.0.0.1', () => console.log(`READY ${issuer}`));
