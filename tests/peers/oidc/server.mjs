// A real OpenID Connect provider (panva's oidc-provider) for Portal's tests.
//
// It signs people in through the library's built-in development pages (any login, any password),
// issues ID tokens signed RS256 with a key made at start, and offers userinfo, refresh tokens
// (scope offline_access), revocation (RFC 7009) and introspection (RFC 7662). Everything lives
// in memory and is gone when the process stops. It listens on 127.0.0.1 only.
//
// Settings, each from the command line (--port 4000) or the environment (OIDC_PORT=4000):
//   port, issuer                        where it listens, and the issuer it names itself
//   client-id, client-secret            the client Portal signs in as
//   other-client-id, other-client-secret  a second client, for answers meant for someone else
//   redirect-uris                       comma-separated; "*" matches any run of characters
//                                       but "/", "?" and "#" (http://127.0.0.1:*/callback)
//
// Docs: https://github.com/panva/node-oidc-provider/blob/main/docs/README.md

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

import { Provider } from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    issuer: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'other-client-id': { type: 'string' },
    'other-client-secret': { type: 'string' },
    'redirect-uris': { type: 'string' },
  },
});

function setting(name, fallback) {
  const fromEnv = process.env[`OIDC_${name.toUpperCase().replaceAll('-', '_')}`];
  const value = args[name] ?? fromEnv ?? fallback;
  if (value === undefined || value === '') {
    console.error(`missing setting: --${name} or OIDC_${name.toUpperCase().replaceAll('-', '_')}`);
    process.exit(2);
  }
  return value;
}

const port = Number.parseInt(setting('port'), 10);
const issuer = setting('issuer', `http://127.0.0.1:${port}`);
const clientId = setting('client-id', 'portal');
const clientSecret = setting('client-secret');
const otherClientId = setting('other-client-id', 'other-client');
const otherClientSecret = setting('other-client-secret', `${clientSecret}-other`);
const redirectUris = setting('redirect-uris')
  .split(',')
  .map((uri) => uri.trim())
  .filter(Boolean);

// Exact addresses go into the client's metadata; patterns with "*" are matched on top of them.
const exactUris = redirectUris.filter((uri) => !uri.includes('*'));
const patterns = redirectUris
  .filter((uri) => uri.includes('*'))
  .map((uri) => {
    const parts = uri.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    return new RegExp(`^${parts.join('[^/?#]*')}$`);
  });
if (exactUris.length === 0) {
  console.error('redirect-uris needs at least one address without "*"');
  process.exit(2);
}

// People who can sign in; any other login gets claims made from its name.
const PEOPLE = {
  ada: { name: 'Ada Lovelace', given_name: 'Ada', family_name: 'Lovelace' },
  grace: { name: 'Grace Hopper', given_name: 'Grace', family_name: 'Hopper' },
};

function claimsOf(login) {
  const person = PEOPLE[login] ?? { name: login };
  return {
    sub: login,
    ...person,
    preferred_username: login,
    email: `${login}@example.test`,
    email_verified: true,
    picture: `${issuer}/pictures/${encodeURIComponent(login)}.png`,
    profile: `${issuer}/people/${encodeURIComponent(login)}`,
    updated_at: 1700000000,
  };
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }),
  kid: `rsa-${randomBytes(6).toString('hex')}`,
  use: 'sig',
  alg: 'RS256',
};

function client(id, secret) {
  return {
    client_id: id,
    client_secret: secret,
    redirect_uris: exactUris,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
  };
}

const provider = new Provider(issuer, {
  clients: [client(clientId, clientSecret), client(otherClientId, otherClientSecret)],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username', 'picture', 'profile', 'updated_at'],
  },
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    userinfo: { enabled: true },
  },
  pkce: { required: () => true },
  async findAccount(_ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return claimsOf(sub);
      },
    };
  },
});

const originalRedirectUriAllowed = provider.Client.prototype.redirectUriAllowed;
provider.Client.prototype.redirectUriAllowed = function redirectUriAllowed(value) {
  return (
    originalRedirectUriAllowed.call(this, value) || patterns.some((pattern) => pattern.test(value))
  );
};

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider ready: issuer ${issuer}, clients ${clientId} and ${otherClientId}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
