"""The admin's error box when the configured cluster cannot be reached: every share-group page
still answers (200), names the connection failure and offers no action that needs the broker.
A closed local port stands in for a cluster that is down."""

from __future__ import annotations

import socket

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def unreachable_kafka(settings, monkeypatch) -> str:
    """``SHAREGROUPS["KAFKA"]`` names a local port nothing listens on."""
    with socket.socket() as probe:  # a port that was free a moment ago: nobody listens there
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", address)
    settings.SHAREGROUPS = {**settings.SHAREGROUPS, "KAFKA": {"bootstrap.servers": address}}
    return address


def url(name: str, *args: str) -> str:
    return reverse(f"admin:django_sharegroups_sharegroup_{name}", args=args)


@pytest.mark.parametrize(
    "page", [("changelist",), ("detail", "orders"), ("reset", "orders"), ("config", "orders")]
)
def test_every_page_shows_the_cluster_cannot_be_reached(admin_client, unreachable_kafka, page):
    response = admin_client.get(url(*page))
    assert response.status_code == 200
    error = response.context["error"]
    assert error["error"] == "KafkaConnectionError"
    assert error["from_broker"] is False  # not a refusal: nobody answered
    html = response.content.decode()
    assert 'id="broker-error"' in html
    assert unreachable_kafka in f"{error['message']} {error.get('hint') or ''}"
    assert 'id="reset-offsets-link"' not in html and 'id="confirm-reset"' not in html
