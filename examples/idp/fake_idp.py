#!/usr/bin/env python3
"""A small OpenID provider for trying revokd against, and for its end-to-end tests.

It is a test fixture, not an identity provider: it has no users, no login and no
TLS, and anyone who can reach its control routes can mint tokens. It listens on
127.0.0.1 only.

    python3 fake_idp.py [--alg RS256|ES256] [--audience api] [--client-id app]

Python 3 with PyJWT and cryptography (Debian: python3-jwt, python3-cryptography).
It listens on an ephemeral port and prints its base URL, which is also its issuer,
as the first line of stdout (e.g. http://127.0.0.1:40123). It stops when stdin
reaches end of file, so a parent that dies takes it along.

Served as an OpenID provider:

    GET /.well-known/openid-configuration   issuer (the base URL exactly), jwks_uri, ...
    GET /jwks                               the published public keys, each with kid and alg

Both answer 503 while the provider is "down" (see /control/down).

The control routes take and return JSON (POST, application/json) and keep
answering while the provider is down:

    /control/token   {"sub", "sid", "kid"?, "aud"?, "iat"?, "ttl"?, "iss"?, "claims"?}
                     -> {"token", "kid", "jti"}: an access token with iss (default
                     this provider; another, to forge one as this provider), sub, sid,
                     aud (default --audience), iat (a fractional NumericDate, default
                     now), exp (iat + ttl, default 3600 s), jti and any other
                     "claims" (which win over those), signed with the
                     current key, or with the key "kid" names (a retired one too).
                     "kid": "ghost" signs with a key never published, under a kid no
                     set has: a token that makes a relying party refetch the keys.
    /control/rotate  {} -> {"kid", "published"}: makes a new key, publishes it next to
                     the others and signs with it from now on.
    /control/retire  {"kid"?} -> {"published"}: unpublishes kid, by default every key
                     but the current one. The private key is kept, so tokens can still
                     be minted with it, as an old token would be.
    /control/publish {"jwk"} -> {}: publishes a JWK as it is, after the provider's
                     own keys (an encryption key, a kind of key a relying party may
                     not know, ...): a relying party must not trip over it.
    /control/down    {} -> {}: discovery and the key set answer 503 from now on.
    /control/up      {} -> {}: and answer again.
    /control/logout  {"sid"?, "sub"?, "variant"?, "jti"?, "aud"?, "iss"?,
                      "token"?, "deliver_to"?, "path"?}
                     -> {"logout_token", "jti", and, when delivered, "status",
                     "body", "cache_control"}.
                     Mints an OpenID Connect Back-Channel Logout 1.0 logout token
                     (header typ logout+jwt; iss, aud = --client-id, iat, jti, events
                     {"http://schemas.openid.net/event/backchannel-logout": {}}, and
                     sid and/or sub), or takes "token" as it is (to send one again).
                     With "deliver_to", a Unix socket path, it POSTs it there as the
                     form logout_token=... to "path" (default /v1/backchannel-logout),
                     as a provider's back channel would, and returns the answer.
                     "variant" spoils a token in one way (see VARIANTS); "good" or
                     none makes a valid one.

Bad variants, each a check a relying party must make (OpenID Connect Back-Channel
Logout 1.0, section 2.6):

    no_events       the events claim is missing
    event_not_object the logout event's member is not a JSON object
    nonce           a nonce claim is present (it would let an ID token pass)
    wrong_aud       aud is not the client id
    old_iat         iat is ten minutes old
    future_iat      iat is ten minutes ahead
    expired         exp passed two minutes ago
    no_jti          no jti
    no_sid_sub      neither sid nor sub
    bad_signature   signed with a key that is not the provider's, under its kid
    wrong_typ       header typ is JWT
    alg_none        unsigned, alg none
    hs256           HS256 with a secret, as an algorithm-confusion attempt would be
    ghost_kid       signed with a key under a kid the provider never published
    wrong_iss       iss is another issuer (https://evil.example)
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import http.server
import json
import socket
import sys
import threading
import time
import urllib.parse
import uuid

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"

VARIANTS = (
    "good", "no_events", "event_not_object", "nonce", "wrong_aud", "old_iat",
    "future_iat", "expired", "no_jti", "no_sid_sub", "bad_signature", "wrong_typ",
    "alg_none", "hs256", "ghost_kid", "wrong_iss",
)


def b64url_uint(n, length=None):
    if length is None:
        length = (n.bit_length() + 7) // 8
    return base64.urlsafe_b64encode(n.to_bytes(length, "big")).rstrip(b"=").decode()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Provider:
    """The keys and the state the routes share; every method holds the lock."""

    def __init__(self, alg, audience, client_id):
        self.alg = alg
        self.audience = audience
        self.client_id = client_id
        self.issuer = None  # set once the port is known
        self.lock = threading.Lock()
        self.keys = {}  # kid -> private key, retired ones included
        self.published = []  # kids in the JWKS, oldest first
        self.current = None
        self.down = False
        self.extra = []  # JWKs published as they are (/control/publish)
        self.serial = 0
        self.ghost = self.new_key()  # never published
        self.rotate()

    def new_key(self):
        if self.alg == "RS256":
            return rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return ec.generate_private_key(ec.SECP256R1())

    def rotate(self):
        with self.lock:
            self.serial += 1
            kid = "%s-%d-%s" % (self.alg.lower(), self.serial, uuid.uuid4().hex[:8])
            self.keys[kid] = self.new_key()
            self.published.append(kid)
            self.current = kid
            return {"kid": kid, "published": list(self.published)}

    def retire(self, kid=None):
        with self.lock:
            if kid is None:
                self.published = [self.current]
            elif kid in self.published and kid != self.current:
                self.published.remove(kid)
            else:
                raise ValueError("cannot retire %r (current %r, published %r)" % (kid, self.current, self.published))
            return {"published": list(self.published)}

    def jwk(self, kid):
        pub = self.keys[kid].public_key()
        if self.alg == "RS256":
            n = pub.public_numbers()
            return {"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
                    "n": b64url_uint(n.n), "e": b64url_uint(n.e)}
        n = pub.public_numbers()
        return {"kty": "EC", "kid": kid, "alg": "ES256", "use": "sig", "crv": "P-256",
                "x": b64url_uint(n.x, 32), "y": b64url_uint(n.y, 32)}

    def jwks(self):
        with self.lock:
            return {"keys": [self.jwk(k) for k in self.published] + self.extra}

    def discovery(self):
        return {
            "issuer": self.issuer,
            "jwks_uri": self.issuer + "/jwks",
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [self.alg],
            "backchannel_logout_supported": True,
            "backchannel_logout_session_supported": True,
        }

    def signing_key(self, kid):
        with self.lock:
            if kid is None:
                kid = self.current
            if kid == "ghost":
                return "ghost-" + uuid.uuid4().hex[:8], self.ghost
            if kid not in self.keys:
                raise ValueError("no key %r" % kid)
            return kid, self.keys[kid]

    def access_token(self, req):
        kid, key = self.signing_key(req.get("kid"))
        iat = float(req.get("iat", time.time()))
        claims = {
            "iss": req.get("iss", self.issuer),
            "sub": req["sub"],
            "aud": req.get("aud", self.audience),
            "iat": iat,
            "exp": int(iat + float(req.get("ttl", 3600))),
            "jti": str(uuid.uuid4()),
        }
        if req.get("sid"):
            claims["sid"] = req["sid"]
        claims.update(req.get("claims") or {})
        token = jwt.encode(claims, key, algorithm=self.alg, headers={"kid": kid, "typ": "JWT"})
        return {"token": token, "kid": kid, "jti": claims["jti"]}

    def logout_token(self, req):
        variant = req.get("variant", "good")
        if variant not in VARIANTS:
            raise ValueError("unknown variant %r (known: %s)" % (variant, ", ".join(VARIANTS)))
        now = time.time()
        claims = {
            "iss": req.get("iss", self.issuer),
            "aud": req.get("aud", self.client_id),
            "iat": int(now),
            "jti": req.get("jti") or str(uuid.uuid4()),
            "events": {LOGOUT_EVENT: {}},
        }
        for name in ("sid", "sub"):
            if req.get(name):
                claims[name] = req[name]
        kid, key = self.signing_key(req.get("kid"))
        header = {"kid": kid, "typ": "logout+jwt"}
        alg = self.alg

        if variant == "no_events":
            del claims["events"]
        elif variant == "event_not_object":
            claims["events"] = {LOGOUT_EVENT: "yes"}
        elif variant == "nonce":
            claims["nonce"] = "n-" + uuid.uuid4().hex
        elif variant == "wrong_aud":
            claims["aud"] = "someone-else"
        elif variant == "old_iat":
            claims["iat"] = int(now) - 600
        elif variant == "future_iat":
            claims["iat"] = int(now) + 600
        elif variant == "expired":
            claims["exp"] = int(now) - 120
        elif variant == "no_jti":
            del claims["jti"]
        elif variant == "no_sid_sub":
            claims.pop("sid", None)
            claims.pop("sub", None)
        elif variant == "bad_signature":
            key = self.new_key()  # the provider's kid, someone else's key
        elif variant == "wrong_typ":
            header["typ"] = "JWT"
        elif variant == "ghost_kid":
            kid, key = self.signing_key("ghost")
            header["kid"] = kid
        elif variant == "wrong_iss":
            claims["iss"] = "https://evil.example"

        if variant == "alg_none":
            token = self.unsigned(header, claims, "none", None)
        elif variant == "hs256":
            token = self.unsigned(header, claims, "HS256", b"a secret anyone could guess")
        else:
            token = jwt.encode(claims, key, algorithm=alg, headers=header)
        return token, claims.get("jti")

    @staticmethod
    def unsigned(header, claims, alg, secret):
        # By hand: PyJWT rightly refuses to make these.
        header = dict(header, alg=alg)
        signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
        sig = b""
        if secret is not None:
            sig = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return signing_input + "." + b64url(sig)


class UnixHTTPConnection(http.client.HTTPConnection):
    """An HTTP/1.1 connection over a Unix socket; the host name is only the Host header."""

    def __init__(self, path, timeout=None):
        super().__init__("revokd", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)  # None: blocking, bounded by whoever asked for the delivery
        s.connect(self.unix_path)
        self.sock = s


def deliver(socket_path, path, logout_token):
    """POSTs a logout token as a relying party's back-channel logout endpoint expects it."""
    conn = UnixHTTPConnection(socket_path)
    try:
        body = urllib.parse.urlencode({"logout_token": logout_token})
        conn.request("POST", path, body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        })
        resp = conn.getresponse()
        return {
            "status": resp.status,
            "body": resp.read().decode("utf-8", "replace"),
            "cache_control": resp.getheader("Cache-Control", ""),
        }
    finally:
        conn.close()


class Handler(http.server.BaseHTTPRequestHandler):
    provider = None  # set before serving

    def log_message(self, fmt, *args):
        sys.stderr.write("fake_idp %s: %s\n" % (self.provider.issuer, fmt % args))

    def answer(self, status, doc):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        p = self.provider
        route = urllib.parse.urlsplit(self.path).path
        if route not in ("/.well-known/openid-configuration", "/jwks"):
            return self.answer(404, {"error": "not_found"})
        with p.lock:
            down = p.down
        if down:
            return self.answer(503, {"error": "temporarily_unavailable"})
        if route == "/jwks":
            return self.answer(200, p.jwks())
        return self.answer(200, p.discovery())

    def do_POST(self):
        p = self.provider
        route = urllib.parse.urlsplit(self.path).path
        try:
            length = int(self.headers.get("Content-Length") or 0)
            req = json.loads(self.rfile.read(length) or b"{}")
            if route == "/control/token":
                return self.answer(200, p.access_token(req))
            if route == "/control/rotate":
                return self.answer(200, p.rotate())
            if route == "/control/retire":
                return self.answer(200, p.retire(req.get("kid")))
            if route == "/control/publish":
                with p.lock:
                    p.extra.append(req["jwk"])
                return self.answer(200, {})
            if route in ("/control/down", "/control/up"):
                with p.lock:
                    p.down = route == "/control/down"
                return self.answer(200, {})
            if route == "/control/logout":
                if req.get("token"):
                    token, jti = req["token"], None
                else:
                    token, jti = p.logout_token(req)
                out = {"logout_token": token, "jti": jti}
                if req.get("deliver_to"):
                    out.update(deliver(req["deliver_to"], req.get("path", "/v1/backchannel-logout"), token))
                return self.answer(200, out)
            return self.answer(404, {"error": "not_found"})
        except (ValueError, KeyError, OSError, http.client.HTTPException) as e:
            return self.answer(400, {"error": "%s: %s" % (type(e).__name__, e)})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--alg", choices=("RS256", "ES256"), default="RS256")
    ap.add_argument("--audience", default="api", help="aud of the access tokens")
    ap.add_argument("--client-id", default="app", help="aud of the logout tokens")
    args = ap.parse_args()

    Handler.provider = Provider(args.alg, args.audience, args.client_id)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    Handler.provider.issuer = "http://%s:%d" % (host, port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(Handler.provider.issuer, flush=True)

    # Until the parent closes stdin, or dies.
    for _ in sys.stdin:
        pass
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
