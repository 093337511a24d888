#!/usr/bin/env python3
"""A revokd client in plain Python (standard library only).

It speaks NDJSON over the Unix socket: one JSON request per line, one JSON
answer per line, in order, on a connection kept open between calls.

    client = Revokd("/run/revokd/revokd.sock")
    answer = client.validate(token)        # {"active": True, "sub": "42", ...}
    if not answer["active"]:
        reject(answer["reason"])           # "expired", "revoked", "subject_revoked", ...

Run as a script, it mints an HS256 token with the daemon's secret (as an
identity provider would, here without a JWT library), then validates it,
revokes it and validates it again:

    python3 revokd_client.py --socket /run/revokd/revokd.sock --secret-file hs256.secret
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import secrets
import socket
import sys
import time


class RevokdError(Exception):
    """The daemon rejected the request itself (bad JSON, unknown op, ...)."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code


class Revokd:
    def __init__(self, path=None, timeout=5.0):
        self.path = path or os.environ.get("REVOKD_SOCKET") or default_socket()
        self.timeout = timeout
        self._sock = None
        self._file = None

    def _connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(self.timeout)
            s.connect(self.path)
        except BaseException:
            s.close()
            raise
        self._sock, self._file = s, s.makefile("rb")

    def close(self):
        if self._sock:
            self._file.close()
            self._sock.close()
            self._sock = self._file = None

    def call(self, request):
        """Send one request, return its answer.

        Any exchange that fails (a timeout, a reset, a line that is not an
        answer) drops the connection and the next call opens a fresh one: the
        answer may still arrive and would be read as the next request's, and
        a socket file that timed out cannot be read again. A connection the
        daemon closed while idle is replaced once; every op here is safe to
        resend when no answer came back."""
        line = (json.dumps(request, separators=(",", ":")) + "\n").encode()
        for attempt in (1, 2):
            fresh = self._sock is None
            if fresh:
                self._connect()
            try:
                self._sock.sendall(line)
                answer = self._file.readline()
            except (BrokenPipeError, ConnectionResetError):
                answer = b""
            except BaseException:  # a timeout, an interrupt: the stream is out of step
                self.close()
                raise
            if answer.endswith(b"\n"):
                break
            self.close()  # closed before a whole answer
            if fresh or attempt == 2:
                raise ConnectionError(f"revokd at {self.path} closed the connection")
        if answer.startswith(b"revokd: "):
            # A daemon at its connection cap says so in one line, then closes.
            self.close()
            raise ConnectionError(answer.decode(errors="replace").strip())
        try:
            body = json.loads(answer)
        except ValueError:
            self.close()
            raise
        if "error" in body:
            raise RevokdError(body["error"]["code"], body["error"]["message"])
        return body

    def validate(self, token):
        return self.call({"op": "validate", "token": token})

    def revoke(self, token, scope=None):
        # scope "session" ends the token's session, "subject" every session
        # of its subject; None, the token alone.
        req = {"op": "revoke", "token": token}
        if scope:
            req["scope"] = scope
        return self.call(req)["stored"]

    def issue(self, sub, claims=None, ttl=None):
        # Needs a daemon with --signing-key, and a caller it lets write.
        req = {"op": "issue", "sub": sub}
        if claims:
            req["claims"] = claims
        if ttl:
            req["ttl"] = ttl  # seconds
        return self.call(req)

    def refresh(self, token):
        # {"token":…,"exp":…,"jti":…,"sid":…}, or {"reason":…} when refused.
        return self.call({"op": "refresh", "token": token})

    def revoke_all(self, sub, before=None):
        req = {"op": "revoke-all", "sub": sub}
        if before:
            req["before"] = before  # RFC 3339; in the future: a ban
        return self.call(req)


def default_socket():
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "revokd", "revokd.sock")
    return "/run/revokd/revokd.sock"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_hs256(secret, claims):
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps(claims).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(signature)}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--socket", help="the daemon's socket (default: REVOKD_SOCKET, else the default path)")
    parser.add_argument("--secret-file", required=True, help="the daemon's --hmac-secret-file")
    parser.add_argument("--sub", default="42", help="the subject of the token to mint")
    args = parser.parse_args()

    with open(args.secret_file, "rb") as f:
        secret = f.read()
    now = int(time.time())
    token = mint_hs256(secret, {
        "sub": args.sub, "jti": secrets.token_hex(8), "sid": secrets.token_hex(4),
        "iat": now, "orig_iat": now, "exp": now + 3600,
    })

    client = Revokd(args.socket)
    try:
        first = client.validate(token)
        stored = client.revoke(token)
        second = client.validate(token)
    finally:
        client.close()
    print(json.dumps({"before": first, "stored": stored, "after": second}))
    return 0 if first["active"] and stored and second.get("reason") == "revoked" else 1


if __name__ == "__main__":
    sys.exit(main())
