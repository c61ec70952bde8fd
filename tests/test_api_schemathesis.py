"""Schemathesis over the live OpenAPI schema, with each role's token (issue 20).

The schema is the one ``/api/schema/`` serves (drf-spectacular's generator, built at collection;
:func:`test_the_fuzzed_schema_is_the_served_one` holds them equal), and every operation is called with generated data — valid and invalid — as a viewer,
an operator and an admin. Checks: no 5xx, status codes and content types the schema documents,
bodies that conform to the documented schemas (errors included: the ``Error`` component). The requests go
through the whole WSGI application (every middleware, the real authentication) in this process, on
the test database; a ``live_server`` per operation cost ten seconds of database flushing each.

Bounded by ``SCHEMATHESIS_MAX_EXAMPLES`` per operation (default 8: about a minute here); raise it for
a deeper run: ``SCHEMATHESIS_MAX_EXAMPLES=200 pytest tests/test_api_schemathesis.py``.
"""

from __future__ import annotations

import json
import os

import pytest
import schemathesis
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from trading_site.lib.roles import ROLES
from trading_site.tokens import token_issue
from trading_site.wsgi import application

pytestmark = pytest.mark.slow  # fuzzes every endpoint for every role: over ~2 s

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "8"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture
def wsgi_keeps_the_test_connection():
    """As Django's test client does: the end of a request must not close the test transaction's connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def role_tokens(make_user) -> dict[str, str]:
    users = [make_user(f"fuzz-{role}", role) for role in ROLES]
    return {user.username: token_issue(user=user, name="fuzz").key for user in users}


def _schema_document() -> dict:
    # The schema the live endpoint serves, built the same way (SpectacularAPIView's generator), so
    # schemathesis can parametrize at collection, before any server runs. (schemathesis'
    # fixture-based loader does not run under pytest 9.)
    return json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True), cls=DjangoJSONEncoder))


SCHEMA_DOCUMENT = _schema_document()
schema = schemathesis.openapi.from_dict(SCHEMA_DOCUMENT)


def test_the_fuzzed_schema_is_the_served_one(role_tokens):
    response = Client().get("/api/schema/", HTTP_AUTHORIZATION=f"Token {role_tokens['fuzz-viewer']}",
                            HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert json.loads(response.content) == SCHEMA_DOCUMENT


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema_for_every_role(case, role_tokens, wsgi_keeps_the_test_connection):
    cache.clear()  # the token endpoint's throttle and log-in limits start empty for each example
    for key in role_tokens.values():
        case.call_and_validate(app=application, headers={"Authorization": f"Token {key}"}, checks=CHECKS)
