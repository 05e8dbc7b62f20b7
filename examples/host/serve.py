"""The example company dashboard: serves index.html with a freshly signed token on every load.

    python examples/host/serve.py --port 8080 --app-url http://127.0.0.1:3000 \
        --company 1 --user 1 --role admin        # secret from BULK_UPLOAD_JWT_SECRET,
                                                 # issuer from BULK_UPLOAD_JWT_ISSUER

Query parameters override the token's claims (?company=&user=&role=&lifetime=), or give the
token outright (?token=...: the tests use it for expired, tampered and replayed tokens).
GET /token answers a fresh token as JSON: the page posts it to the frame to renew the sign-in.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import jwt

PAGE = (Path(__file__).parent / "index.html").read_text()
AUDIENCE = "bulk-upload"  # the app accepts tokens made for it only
DEMO_ISSUER = "bulk-upload-demo-dashboard"  # what the app expects in demo mode


def sign(secret: str, issuer: str, company: int, user: int, role: str, lifetime: int = 120) -> str:
    now = int(time.time())
    claims = {
        "company_id": company,
        "user_id": user,
        "role": role,
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
        "aud": AUDIENCE,
        "iss": issuer,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def make_handler(args: argparse.Namespace):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path not in ("/", "/index.html", "/token"):
                self.send_error(404)
                return
            q = {k: v[-1] for k, v in parse_qs(url.query).items()}
            token = q.get("token") or sign(
                args.secret,
                args.issuer,
                int(q.get("company", args.company)),
                int(q.get("user", args.user)),
                q.get("role", args.role),
                int(q.get("lifetime", 120)),
            )
            if url.path == "/token":
                data, kind = json.dumps({"token": token}).encode(), "application/json"
            else:
                body = PAGE.replace("{{APP_URL}}", html.escape(args.app_url.rstrip("/"))).replace(
                    "{{TOKEN}}", quote(token, safe="")
                )
                data, kind = body.encode(), "text/html; charset=utf-8"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, fmt: str, *a) -> None:
            sys.stderr.write("[host] " + fmt % a + "\n")

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--app-url", default=os.environ.get("BULK_UPLOAD_APP_URL", "http://127.0.0.1:3000"))
    parser.add_argument("--secret", default=os.environ.get("BULK_UPLOAD_JWT_SECRET", ""))
    parser.add_argument("--issuer", default=os.environ.get("BULK_UPLOAD_JWT_ISSUER", "") or DEMO_ISSUER)
    parser.add_argument("--company", type=int, default=1)
    parser.add_argument("--user", type=int, default=1)
    parser.add_argument("--role", default="admin")
    args = parser.parse_args(argv)
    if not args.secret:
        parser.error("set BULK_UPLOAD_JWT_SECRET (the same secret as the app's) or pass --secret")
    server = ThreadingHTTPServer((args.host, args.port), make_handler(args))
    print(f"example dashboard on http://{args.host}:{args.port} framing {args.app_url}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
