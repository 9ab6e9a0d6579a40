"""The codec keyring the tests use: fixed, public, and good for nothing but tests.

Fixed (not generated per run) so that a history recorded by
tests/workflows/record_histories.py with the codec still replays later. Two keys,
so rotation is exercised: "test-1" encrypts, "test-0" only decrypts.
"""

from __future__ import annotations

from pydantic import SecretStr
from temporalio.converter import DataConverter

from infrastructure.settings import Settings
from infrastructure.temporal import data_converter

TEST_CODEC_KEYS = (
    "test-1:UgeHP2iqCQ+7CEhP7441RgtA52DMqEvnJh+Qq/pU6KE=,"
    "test-0:DzJrU7KwIrxJ/9O/SJTbbaUP2ZC2YyMb4TfP+oDen1g="
)


def settings_for_tests(**overrides: object) -> Settings:
    """Settings for tests: the test keyring, nothing read from a data directory."""
    return Settings.model_validate({"codec_keys": SecretStr(TEST_CODEC_KEYS), **overrides})


TEST_DATA_CONVERTER: DataConverter = data_converter(settings_for_tests())
