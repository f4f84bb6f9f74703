"""Fixtures for the signing tests: one PKI per session and a validator trusting its root."""
from __future__ import annotations

import pytest

from signing.validate import Validator

from signing_pki import PKI


@pytest.fixture(scope="session")
def pki() -> PKI:
    return PKI()


@pytest.fixture
def validator(pki: PKI) -> Validator:
    return Validator([pki.root.cert], crls=pki.crls)
