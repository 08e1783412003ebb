"""Schemathesis hooks for ordo's contract fuzz test (tests/api/contract_fuzz.rs).

Two rules about the data, not the request, that a schema cannot state:

- An `Idempotency-Key` means "this request, once": the same key with another request is a
  documented 422. The fuzzer draws keys from the schema and would reuse them across
  different requests, so every valid key it draws is replaced by a fresh one. Invalid
  keys are kept: their 400 is part of the contract under test. The reuse rule itself is
  tested in tests/api/idempotency.rs.
- An order names products that exist. Drawn at random, every order would be refused
  ("no such product") whatever else it holds, so the fuzzer would never test the rest:
  each well-formed product id is replaced by a real one, a different one per line
  ($ORDO_FUZZ_PRODUCTS). Unknown products are tested in tests/api/orders.rs.
"""

import os
import re
import uuid

import schemathesis

# The header's documented pattern and length (src/http/openapi.rs).
VALID_KEY = re.compile(r"^[!-~]([ -~]*[!-~])?$")
MAX_KEY_CHARS = 255
CANONICAL_UUID = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")

PRODUCTS = [p for p in os.environ.get("ORDO_FUZZ_PRODUCTS", "").split(",") if p]


@schemathesis.hook
def before_call(ctx, case, kwargs):
    fresh_idempotency_key(case)
    if case.method.upper() == "POST" and case.path == "/api/v1/orders":
        real_products(case.body)


def fresh_idempotency_key(case):
    headers = case.headers or {}
    for name, value in headers.items():
        if (
            name.lower() == "idempotency-key"
            and isinstance(value, str)
            and len(value) <= MAX_KEY_CHARS
            and VALID_KEY.fullmatch(value)
        ):
            headers[name] = str(uuid.uuid4())


def real_products(body):
    lines = body.get("lines") if isinstance(body, dict) else None
    if not isinstance(lines, list):
        return
    for line, product in zip(lines, PRODUCTS):
        # A malformed id is the point of its test case: kept.
        if isinstance(line, dict) and is_uuid(line.get("product_id")):
            line["product_id"] = product


def is_uuid(value):
    return isinstance(value, str) and CANONICAL_UUID.fullmatch(value) is not None
