"""SASL mechanisms, checked against RFC 7677's SCRAM-SHA-256 example exchange."""

from __future__ import annotations

import pytest

from django_sharegroups.kafka.errors import AuthenticationError
from django_sharegroups.kafka.sasl import plain_exchange, sasl_exchange, scram_exchange

RFC7677_NONCE = "rOprNGfwEbeRWgbNEkqO"
RFC7677_SERVER_FIRST = (
    b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
)
RFC7677_CLIENT_FINAL = (
    b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
)
RFC7677_SERVER_FINAL = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def test_plain_sends_authzid_username_password() -> None:
    exchange = plain_exchange("alice", "s3cret")
    assert next(exchange) == b"\0alice\0s3cret"
    with pytest.raises(StopIteration):
        exchange.send(b"")


def test_scram_sha_256_matches_rfc_7677() -> None:
    exchange = scram_exchange("sha256", "user", "pencil", nonce=RFC7677_NONCE)
    assert next(exchange) == b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    assert exchange.send(RFC7677_SERVER_FIRST) == RFC7677_CLIENT_FINAL
    with pytest.raises(StopIteration):
        exchange.send(RFC7677_SERVER_FINAL)


def test_scram_refuses_a_wrong_server_signature() -> None:
    exchange = scram_exchange("sha256", "user", "pencil", nonce=RFC7677_NONCE)
    next(exchange)
    exchange.send(RFC7677_SERVER_FIRST)
    with pytest.raises(AuthenticationError, match="server signature"):
        exchange.send(b"v=" + b"A" * 44)


def test_scram_refuses_a_server_nonce_that_does_not_extend_ours() -> None:
    exchange = scram_exchange("sha256", "user", "pencil", nonce="abc")
    next(exchange)
    with pytest.raises(AuthenticationError, match="nonce"):
        exchange.send(b"r=xyz123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")


def test_scram_reports_server_errors() -> None:
    exchange = scram_exchange("sha512", "user", "pencil", nonce="abc")
    next(exchange)
    with pytest.raises(AuthenticationError, match="unknown-user"):
        exchange.send(b"e=unknown-user")


def test_scram_escapes_usernames() -> None:
    exchange = scram_exchange("sha512", "a=b,c", "pw", nonce="n")
    assert next(exchange) == b"n,,n=a=3Db=2Cc,r=n"


def test_sasl_needs_credentials_and_a_known_mechanism() -> None:
    with pytest.raises(AuthenticationError, match="sasl.username"):
        sasl_exchange("PLAIN", None, "pw")
    with pytest.raises(AuthenticationError, match="GSSAPI"):
        sasl_exchange("GSSAPI", "user", "pw")
