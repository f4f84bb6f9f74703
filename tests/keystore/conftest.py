"""A fresh SoftHSM2 token for the PKCS#11 tests, in a temp folder (SOFTHSM2_CONF), made with softhsm2-util."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from typing import Iterator

import pytest

from keystore.pkcs11 import find_module


@dataclass(frozen=True)
class SoftToken:
    module: str
    label: str
    pin: str


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory) -> Iterator[SoftToken]:
    # SoftHSM reads SOFTHSM2_CONF once, when the library is first initialised in this process,
    # so the token folder is made once per test session.
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    token = SoftToken(find_module(), "yagona-test", "1234")
    made = subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", token.label, "--pin", token.pin, "--so-pin", "5678"],
        capture_output=True, text=True, env=os.environ.copy(), timeout=30,
    )
    assert made.returncode == 0, made.stderr
    yield token
    if old is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = old
