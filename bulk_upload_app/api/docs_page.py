"""The API's human docs page (/api/v1/docs), made on the server from the OpenAPI document and the
error catalogue: plain HTML with no script and nothing fetched from elsewhere, so it works offline
and under any Content-Security-Policy."""

from __future__ import annotations

import html
import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from bulk_upload_app import routes
from bulk_upload_app.errors import catalogue

router = APIRouter()


_STYLE = """
body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}
code,pre{font:14px ui-monospace,monospace;background:#f3f3f3;border-radius:4px}
pre{padding:.75rem;overflow:auto}code{padding:0 .2rem}
.op{border:1px solid #ccc;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}
.method{font-weight:700;display:inline-block;min-width:4.5rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;text-align:left;padding:.3rem;vertical-align:top}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        return doc["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
    return schema


def _parameters(operation: dict[str, Any]) -> str:
    params = operation.get("parameters", [])
    if not params:
        return ""
    rows = "".join(
        f"<tr><td><code>{_e(p['name'])}</code></td><td>{_e(p['in'])}</td><td>{'yes' if p.get('required') else 'no'}</td>"
        f"<td>{_e(p.get('description', ''))} {_e(json.dumps(p.get('schema', {}).get('enum', '')) if p.get('schema', {}).get('enum') else '')}</td></tr>"
        for p in params
    )
    return f"<table><tr><th>parameter</th><th>in</th><th>required</th><th>what</th></tr>{rows}</table>"


def _body(doc: dict[str, Any], operation: dict[str, Any]) -> str:
    content = operation.get("requestBody", {}).get("content", {})
    parts = []
    for media, spec in content.items():
        schema = _resolve(doc, spec.get("schema", {}))
        fields = "".join(
            f"<li><code>{_e(name)}</code>{' (required)' if name in schema.get('required', []) else ''}: "
            f"{_e(prop.get('description', prop.get('type', '')))}</li>"
            for name, prop in schema.get("properties", {}).items()
        )
        parts.append(f"<p>Body: <code>{_e(media)}</code></p><ul>{fields}</ul>")
    return "".join(parts)


def _responses(operation: dict[str, Any]) -> str:
    items = "".join(
        f"<li><code>{_e(status)}</code> {_e(spec.get('description', ''))}</li>"
        for status, spec in operation.get("responses", {}).items()
    )
    return f"<p>Answers:</p><ul>{items}</ul>"


def docs_html(doc: dict[str, Any]) -> str:
    info = doc.get("info", {})
    ops = []
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            ops.append(
                f'<section class="op"><h3><span class="method">{_e(method.upper())}</span> <code>{_e(path)}</code></h3>'
                f"<p><strong>{_e(operation.get('summary', ''))}</strong></p><p>{_e(operation.get('description', ''))}</p>"
                f"{_parameters(operation)}{_body(doc, operation)}{_responses(operation)}</section>"
            )
    codes = "".join(
        f'<tr id="problem-{_e(c["code"].lower().replace("_", "-"))}"><td><code>{_e(c["code"])}</code></td>'
        f"<td>{_e(c['level'])}</td><td>{_e(c['message'])}</td></tr>"
        for c in catalogue()
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(info.get('title', 'API'))}</title>"
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_STYLE}</style></head><body>'
        f"<main><h1>{_e(info.get('title', 'API'))} (v{_e(info.get('version', ''))})</h1>"
        f"<p>{_e(info.get('description', ''))}</p>"
        f'<p>Machine-readable: <a href="{routes.API_OPENAPI}">OpenAPI 3.1 document</a>.</p>'
        "<h2>Authentication</h2><p>Every call but this page and the OpenAPI document needs "
        "<code>Authorization: Bearer &lt;key&gt;</code>. Admins create keys on the API keys page, or "
        "<code>bulk-upload api-key create --company ID --name NAME --json</code>.</p>"
        "<h2>Conventions</h2><ul><li>Every POST takes an <code>Idempotency-Key</code> header: the same key "
        "and request within 24 hours gets the first answer again; the same key with another request is 422.</li>"
        "<li>Errors are <code>application/problem+json</code> (RFC 9457) with a <code>code</code> below.</li>"
        "<li>Too many requests for a key: 429 with <code>Retry-After</code>.</li>"
        "<li>Lists are paged by <code>cursor</code>: pass <code>next_cursor</code> until it is null.</li></ul>"
        f"<h2>Endpoints</h2>{''.join(ops)}"
        f"<h2>Error codes</h2><table><tr><th>code</th><th>level</th><th>message</th></tr>{codes}</table>"
        "</main></body></html>"
    )


@router.get(routes.API_DOCS, include_in_schema=False, response_class=HTMLResponse)
def docs(request: Request) -> HTMLResponse:
    return HTMLResponse(docs_html(request.app.openapi()))
