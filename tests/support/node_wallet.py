"""An OpenID4VCI wallet made only of independent libraries (issue #20), run by Node.js
against a live certdist server: ``@openid4vc/openid4vci`` 0.4.6 for the protocol (it reads
issuer metadata of OpenID4VCI 1.0 final as ``Openid4vciVersion.V1``), ``@sd-jwt/sd-jwt-vc``
for the credential, ``node:crypto`` for the holder's keys (P-256, or Ed25519 where a request
says ``keyType: "Ed25519"``). Nothing of certdist's code
runs on the wallet's side; the test only hands it the offer link and the transaction code.

Two operations (one JSON case each, see :data:`WALLET_HARNESS_JS`):

* ``receive``: the pre-authorized code flow. Resolve the ``openid-credential-offer://`` link
  (by its ``credential_offer_uri``), fetch the issuer's and the authorization server's
  metadata, wait ``waitBeforeTokenMs`` if given, ask for a token with the pre-authorized code
  and ``txCode``, then send each of ``requests`` in turn: ``{proofs: n}`` asks for a fresh
  ``c_nonce``, makes ``n`` new holder keys (``keyType``: ``"P-256"``, signed ES256, the
  default, or ``"Ed25519"``, signed EdDSA) and a proof JWT (``openid4vci-proof+jwt``) for
  each, and sends one credential request with all of them; ``reuseNonce`` keeps the previous
  request's nonce, ``aud`` puts another audience in the proofs. Every step's result or error
  (HTTP status and error body) is returned, and every HTTP exchange (method, URL, status,
  ``Cache-Control``); a failed token request ends the case.
* ``hold``: what a wallet does with one credential. Fetch the issuer's
  ``/.well-known/jwt-vc-issuer`` (the ``iss`` of the credential decides the URL), verify the
  SD-JWT VC with the key of its ``kid`` (and its Token Status List entry, if it names one,
  through the library's own fetcher), then present ``frame`` with a Key Binding JWT signed by
  ``holderJwk`` carrying ``kb`` (``aud``, ``nonce``, ``iat``).

The server is plain HTTP on 127.0.0.1 in tests, so the library is told to allow ``http://``
URLs (``setGlobalConfig({allowInsecureUrls: true})``); every other check stays on.
"""

from __future__ import annotations

from typing import Any

from tests.support.node_verifiers import CACHE_DIR, HARNESS_PRELUDE, NodeVerifiers, write_if_changed

WALLET_HARNESS = "openid4vci-wallet-harness.mjs"

WALLET_HARNESS_JS = (
    HARNESS_PRELUDE
    + """
import crypto from 'node:crypto';
import {Openid4vciClient, setGlobalConfig} from '@openid4vc/openid4vci';
import {clientAuthenticationAnonymous} from '@openid4vc/oauth2';
import {SDJwtVcInstance} from '@sd-jwt/sd-jwt-vc';

setGlobalConfig({allowInsecureUrls: true});

const es256 = {dsaEncoding: 'ieee-p1363'};
const b64url = (data) => Buffer.from(data).toString('base64url');
const nodeHash = {'sha-256': 'sha256', 'sha-384': 'sha384', 'sha-512': 'sha512'};

// Holder keys by their public x coordinate: the library's signJwt callback names the key
// it wants by its public JWK.
const holderKeys = new Map();

function newHolderKey(keyType) {
  const {privateKey, publicKey} = keyType === 'Ed25519'
    ? crypto.generateKeyPairSync('ed25519')
    : crypto.generateKeyPairSync('ec', {namedCurve: 'P-256'});
  const publicJwk = publicKey.export({format: 'jwk'});
  holderKeys.set(publicJwk.x, privateKey);
  return {publicJwk, privateJwk: privateKey.export({format: 'jwk'})};
}

// ES256 for a P-256 key, EdDSA for an Ed25519 one: node:crypto's arguments for each.
const algorithmOf = (jwk) => (jwk.kty === 'OKP' ? 'EdDSA' : 'ES256');
const signWith = (privateKey, data) => (privateKey.asymmetricKeyType === 'ed25519'
  ? crypto.sign(null, Buffer.from(data), privateKey)
  : crypto.sign('sha256', Buffer.from(data), {key: privateKey, ...es256}));

// Every HTTP exchange of the current case, for the checks the library leaves to the caller
// (Cache-Control of the token and nonce responses).
let exchanges = [];

async function recordingFetch(input, init) {
  const answer = await fetch(input, init);
  exchanges.push({
    method: (init && init.method) || 'GET',
    url: String(input instanceof Request ? input.url : input),
    status: answer.status,
    cacheControl: answer.headers.get('cache-control'),
  });
  return answer;
}

const callbacks = {
  fetch: recordingFetch,
  hash: (data, alg) => crypto.createHash(nodeHash[alg]).update(data).digest(),
  generateRandom: (length) => crypto.randomBytes(length),
  clientAuthentication: clientAuthenticationAnonymous(),
  signJwt: (signer, {header, payload}) => {
    if (signer.method !== 'jwk' || signer.alg !== algorithmOf(signer.publicJwk)) {
      throw new Error(`this wallet does not sign ${signer.alg} with a ${signer.publicJwk.kty} key`);
    }
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
    const signature = signWith(holderKeys.get(signer.publicJwk.x), input);
    return {jwt: `${input}.${b64url(signature)}`, signerJwk: signer.publicJwk};
  },
};

// An error as the test needs it: the HTTP status and the error body the server sent.
async function failure(error) {
  const answer = error.response && (error.response.response || error.response);
  let body = error.errorResponse || error.response?.credentialErrorResponseResult?.data;
  if (body === undefined && answer && typeof answer.clone === 'function') {
    const text = await answer.clone().text().catch(() => '');
    try { body = JSON.parse(text); } catch { body = text; }
  }
  return {
    ok: false,
    status: answer && typeof answer.status === 'number' ? answer.status : null,
    body: body ?? null,
    wwwAuthenticate: answer?.headers?.get?.('www-authenticate') ?? null,
    error: describe(error),
  };
}

async function receive(testCase) {
  exchanges = [];
  const client = new Openid4vciClient({callbacks});
  const offer = await client.resolveCredentialOffer(testCase.offer);
  const issuerMetadata = await client.resolveIssuerMetadata(offer.credential_issuer);
  const report = {
    offer,
    version: issuerMetadata.originalDraftVersion,
    credentialIssuer: issuerMetadata.credentialIssuer,
    authorizationServers: issuerMetadata.authorizationServers,
    // The configurations the library found valid for their format (invalid ones are dropped).
    knownConfigurations: Object.keys(issuerMetadata.knownCredentialConfigurations),
    requests: [],
    exchanges,
  };
  // Lets a pre-authorized code expire between reading the offer and using it.
  await new Promise((resolve) => setTimeout(resolve, testCase.waitBeforeTokenMs || 0));
  let accessToken;
  try {
    const token = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({
      credentialOffer: offer, issuerMetadata, txCode: testCase.txCode,
    });
    report.token = {ok: true, response: {...token.accessTokenResponse, access_token: '(hidden)'}};
    accessToken = token.accessTokenResponse.access_token;
  } catch (error) {
    report.token = await failure(error);
    return report;
  }
  const credentialConfigurationId = offer.credential_configuration_ids[0];
  let nonce;
  for (const request of testCase.requests) {
    if (!request.reuseNonce) nonce = (await client.requestNonce({issuerMetadata})).c_nonce;
    // Another audience: the same metadata with another credential_issuer, which the
    // library writes into the proof's aud.
    const audience = request.aud === undefined ? issuerMetadata : {
      ...issuerMetadata,
      credentialIssuer: {...issuerMetadata.credentialIssuer, credential_issuer: request.aud},
    };
    const keys = Array.from({length: request.proofs}, () => newHolderKey(request.keyType));
    const proofs = [];
    for (const key of keys) {
      const {jwt} = await client.createCredentialRequestJwtProof({
        issuerMetadata: audience, credentialConfigurationId, nonce,
        signer: {method: 'jwk', alg: algorithmOf(key.publicJwk), publicJwk: key.publicJwk},
      });
      proofs.push(jwt);
    }
    try {
      const answer = await client.retrieveCredentials({
        issuerMetadata, accessToken, credentialConfigurationId, proofs: {jwt: proofs},
      });
      const credentials = answer.credentialResponse.credentials || [];
      report.requests.push({
        ok: true,
        credentials: credentials.map((entry) => entry.credential),
        holderJwks: keys.map((key) => key.privateJwk),
      });
    } catch (error) {
      report.requests.push(await failure(error));
    }
  }
  return report;
}

// SD-JWT VC §5: the issuer metadata URL puts /.well-known/jwt-vc-issuer between the host
// and the issuer's path.
async function issuerKeys(iss) {
  const url = new URL(iss);
  const path = url.pathname === '/' ? '' : url.pathname;
  const answer = await fetch(`${url.origin}/.well-known/jwt-vc-issuer${path}`);
  if (!answer.ok) throw new Error(`jwt-vc-issuer metadata: HTTP ${answer.status}`);
  const metadata = await answer.json();
  if (metadata.issuer !== iss) throw new Error(`jwt-vc-issuer metadata of ${metadata.issuer}`);
  return metadata.jwks.keys;
}

const verifyWith = (jwk) => (data, signature) => crypto.verify(
  'sha256', Buffer.from(data), {key: crypto.createPublicKey({key: jwk, format: 'jwk'}), ...es256},
  Buffer.from(signature, 'base64url'));

async function hold(testCase) {
  const [header, payload] = testCase.sdJwt.split('~')[0].split('.').slice(0, 2)
    .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')));
  const keys = await issuerKeys(payload.iss);
  const issuerJwk = keys.find((key) => key.kid === header.kid);
  if (!issuerJwk) throw new Error(`no key ${header.kid} in the issuer's metadata`);
  const wallet = new SDJwtVcInstance({
    hasher: (data, alg) => crypto.createHash(nodeHash[alg] || 'sha256').update(data).digest(),
    hashAlg: 'sha-256',
    saltGenerator: (length) => crypto.randomBytes(length).toString('base64url'),
    verifier: verifyWith(issuerJwk),
    // The status list token: signed by one of the keys the issuer publishes.
    statusVerifier: (data, signature) => keys.some((key) => verifyWith(key)(data, signature)),
    kbSignAlg: algorithmOf(testCase.holderJwk),
    kbSigner: (data) => signWith(
      crypto.createPrivateKey({key: testCase.holderJwk, format: 'jwk'}), data,
    ).toString('base64url'),
  });
  let verified;
  try {
    // No currentDate: the library then takes the time at each check. A fixed one, taken
    // before the status list token is fetched, could be a second older than the token that
    // the server signs during that fetch ("JWT is not yet valid", seen in CI).
    verified = await wallet.verify(testCase.sdJwt);
  } catch (error) {
    return {verified: false, error: describe(error), issuerJwk};
  }
  const kb = {payload: testCase.kb};
  const presentation = await wallet.present(testCase.sdJwt, testCase.frame, {kb});
  const {header: jwtHeader, payload: claims} = verified;
  return {verified: true, header: jwtHeader, claims, presentation, issuerJwk};
}

// case: {op: "receive", offer, txCode, requests: [...]} or {op: "hold", sdJwt, holderJwk,
// frame, kb}; an unexpected error is returned as {crashed: "..."}.
main(async (testCase) => {
  try {
    return await (testCase.op === 'receive' ? receive(testCase) : hold(testCase));
  } catch (error) {
    return {crashed: describe(error), stack: String(error && error.stack)};
  }
}).catch((error) => { toStderr((error && error.stack) || error); process.exit(1); });
"""
)


def run_wallet(node: NodeVerifiers, *cases: dict[str, Any]) -> list[dict[str, Any]]:
    """Runs the wallet on ``cases`` (one Node.js process), each result checked for a crash."""
    write_if_changed(CACHE_DIR / WALLET_HARNESS, WALLET_HARNESS_JS)
    results = node.run(WALLET_HARNESS, list(cases))
    for result in results:
        assert "crashed" not in result, f"the wallet failed: {result['crashed']}\n{result['stack']}"
    return results
