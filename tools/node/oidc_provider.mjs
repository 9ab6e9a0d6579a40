// A real OpenID Connect provider (panva's oidc-provider) for Casework's tests and for
// trying single sign-on on a developer's machine. Not for production: it keeps its
// state in memory and signs anyone in through oidc-provider's development login page.
//
//   node tools/node/oidc_provider.mjs [--port N] [--admin-port N] [--issuer URL]
//        [--clients FILE] [--keys FILE] [--accounts FILE] [--api-audience AUD]
//        [--device-interval SECONDS] [--redirect-uris URI[,URI...]]
//
// Every option can also come from the environment: OIDC_PORT, OIDC_ADMIN_PORT,
// OIDC_ISSUER, OIDC_CLIENTS, OIDC_JWKS, OIDC_ACCOUNTS, OIDC_API_AUDIENCE,
// OIDC_DEVICE_INTERVAL, OIDC_REDIRECT_URIS (for clients, keys and accounts the
// environment carries the JSON itself, the options name files holding it).
//
// * Port 0 (the default) picks a free port; so does admin port 0. When both listen, one
//   line of JSON goes to stdout: {"issuer": ..., "port": ..., "admin_port": ...}.
// * Clients: a JSON array of oidc-provider client metadata. Default: "casework-console"
//   (confidential, authorization code + PKCE, secret "casework-console-secret",
//   redirect http://127.0.0.1:8000/console/sign-in/oidc/callback: the staff console of
//   `casework serve`) and "casework-cli" (public, device flow). PKCE is required of
//   every code flow.
// * Redirect URIs: --redirect-uris (comma-separated absolute http(s) URLs) replaces the
//   redirect URIs of every client with the authorization_code grant, so that a console
//   served on another address (a test's free port) can be registered without writing
//   a clients file.
// * Keys: a private JWK Set ({"keys": [...]}) that signs the tokens; its public half is
//   served at /jwks. Default: a fresh RSA (RS256) key and an EC P-256 (ES256) key.
// * Accounts: {"<login>": {claims...}}. The development login page accepts any login
//   (the password is ignored): an account not listed gets `sub` = the login and an
//   `email` of <login>@staff.example.
// * Device flow: the device authorization response carries `interval` (default 5 s),
//   and a device code polled again sooner than that while the user has not finished
//   is answered `slow_down` instead of `authorization_pending` (RFC 8628 section 3.5;
//   oidc-provider itself never says slow_down).
// * --api-audience: access tokens for that resource (the default resource) are JWTs
//   with `aud` = it, signed like ID tokens, so an API can verify them locally.
// * The admin port (loopback only) answers:
//     GET  /health          200 once the provider is up
//     POST /rotate          body: a private JWK Set, or empty for fresh keys. The
//                           provider is rebuilt with them, so the old kids leave /jwks
//                           at once; sessions, grants and codes (kept in memory) stay.
//                           Answers {"kids": [...]} (the kids now served).
//     GET  /requests        how often each path was requested: {"/jwks": 3, ...}
//     POST /shutdown        stops both servers.
// SIGTERM and SIGINT stop both servers too.

import * as crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: options } = parseArgs({
  options: {
    port: { type: 'string' },
    'admin-port': { type: 'string' },
    host: { type: 'string' },
    issuer: { type: 'string' },
    clients: { type: 'string' },
    keys: { type: 'string' },
    accounts: { type: 'string' },
    'api-audience': { type: 'string' },
    'device-interval': { type: 'string' },
    'redirect-uris': { type: 'string' },
  },
  strict: true,
});

function fail(message) {
  process.stderr.write(`oidc_provider: ${message}\n`);
  process.exit(2);
}

function jsonSetting(option, variable, fallback) {
  try {
    if (options[option] !== undefined) return JSON.parse(readFileSync(options[option], 'utf8'));
    if (process.env[variable]) return JSON.parse(process.env[variable]);
  } catch (error) {
    fail(`--${option} / ${variable}: not valid JSON (${error.message})`);
  }
  return fallback;
}

function portSetting(option, variable) {
  const raw = options[option] ?? process.env[variable] ?? '0';
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    fail(`--${option} / ${variable}: ${JSON.stringify(raw)} is not a port (0-65535)`);
  }
  return port;
}

function freshKeys() {
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const stamp = crypto.randomBytes(6).toString('hex');
  return {
    keys: [
      { ...rsa.export({ format: 'jwk' }), kid: `rsa-${stamp}`, alg: 'RS256', use: 'sig' },
      { ...ec.export({ format: 'jwk' }), kid: `ec-${stamp}`, alg: 'ES256', use: 'sig' },
    ],
  };
}

function checkKeys(jwks, where) {
  if (!jwks || !Array.isArray(jwks.keys) || jwks.keys.length === 0) {
    throw new Error(`${where}: expected a JWK Set {"keys": [...]} with at least one key`);
  }
  for (const key of jwks.keys) {
    if (!key.d) throw new Error(`${where}: key ${key.kid ?? '(no kid)'} is not a private key`);
  }
  if (!jwks.keys.some((key) => key.kty === 'RSA')) {
    throw new Error(`${where}: an RSA key is needed (ID tokens are signed with RS256)`);
  }
  return jwks;
}

const DEFAULT_CLIENTS = [
  {
    client_id: 'casework-console',
    client_secret: 'casework-console-secret',
    redirect_uris: ['http://127.0.0.1:8000/console/sign-in/oidc/callback'],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  },
  {
    client_id: 'casework-cli',
    grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'none',
  },
];

const port = portSetting('port', 'OIDC_PORT');
const adminPort = portSetting('admin-port', 'OIDC_ADMIN_PORT');
const host = options.host ?? process.env.OIDC_HOST ?? '127.0.0.1';
const clients = jsonSetting('clients', 'OIDC_CLIENTS', DEFAULT_CLIENTS);
const accounts = jsonSetting('accounts', 'OIDC_ACCOUNTS', {});
const deviceInterval = Number(options['device-interval'] ?? process.env.OIDC_DEVICE_INTERVAL ?? '5');
if (!Number.isInteger(deviceInterval) || deviceInterval < 1 || deviceInterval > 60) {
  fail('--device-interval / OIDC_DEVICE_INTERVAL: a whole number of seconds, 1-60');
}
const apiAudience = options['api-audience'] ?? process.env.OIDC_API_AUDIENCE ?? undefined;
let jwks;
try {
  jwks = checkKeys(jsonSetting('keys', 'OIDC_JWKS', undefined) ?? freshKeys(), 'keys');
} catch (error) {
  fail(error.message);
}
if (!Array.isArray(clients)) fail('--clients / OIDC_CLIENTS: expected a JSON array of clients');
const redirectUris = options['redirect-uris'] ?? process.env.OIDC_REDIRECT_URIS;
if (redirectUris !== undefined) {
  const uris = redirectUris.split(',').map((uri) => uri.trim()).filter((uri) => uri !== '');
  if (uris.length === 0) fail('--redirect-uris / OIDC_REDIRECT_URIS: name at least one URI');
  for (const uri of uris) {
    let url;
    try {
      url = new URL(uri);
    } catch {
      fail(`--redirect-uris / OIDC_REDIRECT_URIS: ${JSON.stringify(uri)} is not an absolute URL`);
    }
    if (!['http:', 'https:'].includes(url.protocol) || url.hash) {
      fail(`--redirect-uris / OIDC_REDIRECT_URIS: ${JSON.stringify(uri)} is not an http(s) URL without a fragment`);
    }
  }
  for (const client of clients) {
    if ((client.grant_types ?? ['authorization_code']).includes('authorization_code')) {
      client.redirect_uris = uris;
    }
  }
}
// Requests by path (for tests that count JWKS fetches) and the last poll of each device
// code (for slow_down), kept across rotations.
const requests = {};
const lastPolls = new Map();
// Signs the provider's cookies; the same across rebuilds so sessions survive a rotation.
const cookieKeys = [crypto.randomBytes(32).toString('base64url')];

async function findAccount(_ctx, id) {
  const claims = { email: `${id}@staff.example`, email_verified: true, ...(accounts[id] ?? {}) };
  return {
    accountId: id,
    async claims() {
      return { ...claims, sub: id };
    },
  };
}

function build(issuer, keys) {
  const configuration = {
    clients,
    jwks: keys,
    findAccount,
    cookies: { keys: cookieKeys },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
    },
    // Scope-requested claims (email) go into the ID token too, as many providers do.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: apiAudience !== undefined,
        defaultResource: async () => apiAudience,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resource) => {
          if (resource !== apiAudience) throw new Provider.errors.InvalidTarget();
          return {
            scope: 'openid email profile',
            audience: apiAudience,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    ttl: { IdToken: 3600, AccessToken: 3600, DeviceCode: 600, AuthorizationCode: 60 },
    renderError: async (ctx, out) => {
      ctx.type = 'json';
      ctx.body = out;
    },
  };
  const provider = new Provider(issuer, configuration);
  provider.use(async (ctx, next) => {
    requests[ctx.path] = (requests[ctx.path] ?? 0) + 1;
    await next();
    const route = ctx.oidc?.route;
    if (route === 'device_authorization' && ctx.status === 200 && ctx.body) {
      ctx.body = { ...ctx.body, interval: deviceInterval };
    } else if (route === 'token' && ctx.body?.error === 'authorization_pending') {
      const deviceCode = String(ctx.oidc.params?.device_code);
      const now = Date.now();
      const previous = lastPolls.get(deviceCode);
      lastPolls.set(deviceCode, now);
      if (previous !== undefined && now - previous < deviceInterval * 1000) {
        ctx.body = {
          error: 'slow_down',
          error_description: `poll at most every ${deviceInterval} s (then 5 s more)`,
        };
      }
    }
  });
  provider.on('server_error', (_ctx, error) => process.stderr.write(`server_error: ${error.stack}\n`));
  return provider;
}

let provider;
const server = http.createServer((req, res) => provider.callback()(req, res));

function listen(target, wanted) {
  return new Promise((resolve, reject) => {
    target.once('error', reject);
    target.listen(wanted, host, () => resolve(target.address().port));
  });
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function answer(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function stop() {
  server.close();
  admin.close();
  server.closeAllConnections();
  admin.closeAllConnections();
}

let issuer;
const admin = http.createServer(async (req, res) => {
  try {
    if (req.method === 'GET' && req.url === '/health') {
      answer(res, 200, { issuer });
    } else if (req.method === 'POST' && req.url === '/rotate') {
      const text = (await readBody(req)).trim();
      let keys;
      try {
        keys = checkKeys(text ? JSON.parse(text) : freshKeys(), 'the body');
      } catch (error) {
        answer(res, 400, { error: error.message });
        return;
      }
      provider = build(issuer, keys);
      jwks = keys;
      answer(res, 200, { kids: keys.keys.map((key) => key.kid) });
    } else if (req.method === 'GET' && req.url === '/requests') {
      answer(res, 200, requests);
    } else if (req.method === 'POST' && req.url === '/shutdown') {
      answer(res, 200, { stopping: true });
      setImmediate(stop);
    } else {
      answer(res, 404, { error: `no admin route ${req.method} ${req.url}` });
    }
  } catch (error) {
    answer(res, 500, { error: String(error) });
  }
});

const boundPort = await listen(server, port);
issuer = options.issuer ?? process.env.OIDC_ISSUER ?? `http://${host}:${boundPort}`;
try {
  provider = build(issuer, jwks);
} catch (error) {
  fail(`the provider refused its configuration: ${error.message}`);
}
const boundAdmin = await listen(admin, adminPort);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdout.write(`${JSON.stringify({ issuer, port: boundPort, admin_port: boundAdmin })}\n`);
