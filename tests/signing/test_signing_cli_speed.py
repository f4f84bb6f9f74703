"""`imzo sign` of a big file: the hash runs in a child process while the key is decrypted, and signing
imports only what it needs. Timings live in benchmarks/signing.py; these check the behaviour."""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from keystore.pfx import encrypt_key
from signing import prehash
from signing.errors import SigningError

from signing_pki import PKI

PASSWORD = "to'g'ri-parol"


@pytest.fixture
def files(pki: PKI, tmp_path: Path) -> dict[str, Path]:
    out = {"doc": tmp_path / "doc.bin", "root": tmp_path / "root.pem"}
    out["doc"].write_bytes(bytes(range(256)) * 40_000)
    out["root"].write_bytes(pki.root.cert.public_bytes(serialization.Encoding.PEM))
    for who in ("citizen", "ed25519"):
        party = getattr(pki, who)
        out[who] = tmp_path / f"{who}.pfx"
        out[who].write_bytes(encrypt_key(party.key, PASSWORD.encode(), party.cert, party.chain, kdf_rounds=1000))
    for i, crl in enumerate(pki.crls):
        out[f"crl{i}"] = tmp_path / f"crl{i}.pem"
        out[f"crl{i}"].write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    return out


def test_signing_imports_neither_the_validator_nor_the_ca(files) -> None:
    script = ("import sys\nfrom signing.imzo import main\n"
              "try:\n    main(sys.argv[1:], prog_name='imzo')\nexcept SystemExit as e:\n    code = e.code\n"
              "print(code, sorted(m for m in sys.modules if m in "
              "('signing.validate', 'signing.ca', 'signing.ocsp', 'signing.report', 'urllib.request')))\n")
    done = subprocess.run([sys.executable, "-c", script, "sign", str(files["doc"]), "--detached", "--pfx",
                           str(files["citizen"]), "--password-stdin"], input=PASSWORD + "\n",
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stdout + done.stderr


def test_the_prehash_child_gives_the_file_digest_and_its_progress(tmp_path: Path, files) -> None:
    data = files["doc"].read_bytes()
    seen: list[int] = []
    with prehash.PendingDigest(files["doc"], "sha256") as pending:
        assert pending._pid  # hashed by a child process, on another core
        assert pending.result(seen.append) == hashlib.sha256(data).digest()
    assert sum(seen) == len(data)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with prehash.PendingDigest(empty, "sha512") as pending:
        assert pending.result() == hashlib.sha512(b"").digest()
    with pytest.raises(SigningError, match="could not hash .*No such file"):
        with prehash.PendingDigest(tmp_path / "gone", "sha256") as pending:
            pending.result()
    with pytest.raises(ValueError):
        prehash.PendingDigest(files["doc"], "no-such-digest")


@pytest.mark.parametrize("who", ["citizen", "ed25519"])  # Ed25519 signs SHA-512: the guess is redone
@pytest.mark.parametrize("detached", [True, False])
def test_signatures_made_with_the_prehash_verify(files, who: str, detached: bool) -> None:
    imzo = Path(sys.executable).with_name("imzo")
    sig = files["doc"].with_name(f"{who}-{detached}.p7s")
    args = ["sign", files["doc"], "--pfx", files[who], "--password-stdin", "-o", sig] + (["--detached"] * detached)
    done = subprocess.run([str(imzo), *map(str, args)], input=PASSWORD + "\n", capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    crls = [a for i in range(2) for a in ("--crl", str(files[f"crl{i}"]))]
    check = [str(imzo), "verify", *([str(files["doc"])] if detached else []), str(sig), "--trust",
             str(files["root"]), *crls]
    verified = subprocess.run(check, capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0 and verified.stdout.startswith("TOTAL-PASSED"), verified.stdout
