"""One OID table: signing/oids.py. A dotted OID spelt anywhere else in `signing` is a second table
that will drift (the TSA check and the validator already had)."""
from __future__ import annotations

import re
from pathlib import Path

import signing
from signing import cms, der, oids

_DOTTED = re.compile(r"""["'](?:[012]\.(?:[0-9]+\.){2,}[0-9]+)["']""")


def test_no_module_of_signing_spells_an_oid_outside_oids_py():
    root = Path(signing.__file__).parent
    found = [f"{p.relative_to(root)}: {m.group(0)}" for p in sorted(root.rglob("*.py")) if p.name != "oids.py"
             for m in _DOTTED.finditer(p.read_text(encoding="utf-8"))]
    assert not found, "OIDs outside signing/oids.py:\n" + "\n".join(found)


def test_the_table_agrees_with_itself():
    assert cms.DATA == oids.DATA and cms.TST_INFO == oids.TST_INFO
    assert der.digest_name(oids.DIGESTS["sha256"]) == "sha256"
    assert all(oids.DIGEST_NAMES[oids.DIGESTS[n]] == n for n in oids.DIGESTS)
