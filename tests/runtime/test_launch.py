"""What ``runshareconsumers`` says at startup about the settings it runs with."""

import logging

from django.test import override_settings

from django_sharegroups.runtime.launch import warn_if_debug


def test_debug_on_is_warned_about_once(caplog):
    with override_settings(DEBUG=True), caplog.at_level(logging.WARNING, "django_sharegroups"):
        warn_if_debug()
    assert [r.getMessage() for r in caplog.records if "settings.DEBUG is on" in r.getMessage()]


def test_debug_off_says_nothing(caplog):
    with override_settings(DEBUG=False), caplog.at_level(logging.WARNING, "django_sharegroups"):
        warn_if_debug()
    assert not caplog.records
