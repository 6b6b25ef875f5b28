"""The REST API's OpenAPI document (``wxlink openapi``, the same one ``/api/v1/openapi.json``
serves) is a valid OpenAPI 3.1 document by an independent validator, with unique operation ids
and every route of the API."""

from __future__ import annotations

import json
import subprocess

from openapi_spec_validator import validate

from conftest import wxlink_bin

ROUTES = {
    ("get", "/status"), ("get", "/sessions"), ("get", "/sessions/{name}"),
    ("patch", "/sessions/{name}"), ("post", "/sessions/{name}/logout"),
    ("get", "/sessions/{name}/users"), ("post", "/logins"), ("get", "/logins"),
    ("get", "/logins/{backend}"), ("delete", "/logins/{backend}"),
    ("get", "/logins/{backend}/events"), ("get", "/logins/{backend}/qr.svg"),
    ("get", "/logins/{backend}/qr.png"), ("post", "/logins/{backend}/code"),
    ("get", "/messages"), ("post", "/messages"), ("get", "/messages/{id}"),
    ("get", "/messages/{id}/media"), ("get", "/conversations"), ("post", "/typing"),
    ("get", "/contacts"), ("get", "/rooms"), ("get", "/rooms/{id}/members"),
    ("post", "/inbox/{consumer}"), ("get", "/events"),
}


def test_openapi_document_is_valid_3_1_with_every_route() -> None:
    out = subprocess.run([wxlink_bin(), "openapi"], check=True, capture_output=True, timeout=30)
    doc = json.loads(out.stdout)
    assert doc["openapi"] == "3.1.0"
    validate(doc)  # raises on any violation of the OpenAPI 3.1 schema
    ops = {(m, p) for p, item in doc["paths"].items() for m in item}
    assert ops == ROUTES
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)), ids
    assert "bearer" in doc["components"]["securitySchemes"]
