"""`imzo verify` of attached signatures over the 64 MiB signature limit, in constant memory, as `imzo sign`
(DER) and `openssl cms -stream` (BER pieces) make them; `verify --out` and `extract` write the document."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from keystore.pfx import encrypt_key
from signing import der
from signing.validate import Validator

from signing_pki import PKI

pytestmark = pytest.mark.slow

PASSWORD = "to'g'ri-parol"
BIG = 80 << 20  # over der.MAX_BYTES, the most a signature is ever read into memory
IMZO = Path(sys.executable).with_name("imzo")
#: Runs imzo in this process and reports its peak resident size (KiB) on the last stderr line.
PEAK = ("import resource, sys\nfrom signing.imzo import main\n"
        "try:\n    main(sys.argv[1:], prog_name='imzo')\n"
        "finally:\n    print('peak', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n")


def run(*args: object, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([str(IMZO), *map(str, args)], input=stdin, capture_output=True, text=True, timeout=300)


def peak_kib(*args: object) -> tuple[subprocess.CompletedProcess, int]:
    done = subprocess.run([sys.executable, "-c", PEAK, *map(str, args)], capture_output=True, text=True,
                          timeout=300)
    last = done.stderr.splitlines()[-1]
    assert last.startswith("peak "), done.stderr
    return done, int(last.split()[1])


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@pytest.fixture(scope="module")
def big(pki: PKI, tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("big")
    files = {"doc": d / "big.bin", "small": d / "small.txt", "root": d / "root.pem", "other": d / "other.pem",
             "pfx": d / "citizen.pfx", "cert": d / "c.pem", "key": d / "c.key", "chain": d / "chain.pem"}
    block = os.urandom(1 << 20)
    with open(files["doc"], "wb") as f:
        for i in range(BIG >> 20):
            f.write(bytes([i]) + block[1:])
    files["small"].write_bytes(b"kichik hujjat\n")
    files["root"].write_bytes(pki.root.cert.public_bytes(serialization.Encoding.PEM))
    files["other"].write_bytes(pki.other_root.cert.public_bytes(serialization.Encoding.PEM))
    files["cert"].write_bytes(pki.citizen.cert.public_bytes(serialization.Encoding.PEM))
    files["chain"].write_bytes(pki.issuing.cert.public_bytes(serialization.Encoding.PEM))
    files["key"].write_bytes(pki.citizen.key.private_bytes(serialization.Encoding.PEM,
                                                           serialization.PrivateFormat.PKCS8,
                                                           serialization.NoEncryption()))
    files["pfx"].write_bytes(encrypt_key(pki.citizen.key, PASSWORD.encode(), pki.citizen.cert, pki.citizen.chain,
                                         kdf_rounds=1000))
    for i, crl in enumerate(pki.crls):
        files[f"crl{i}"] = d / f"crl{i}.pem"
        files[f"crl{i}"].write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    for doc in ("doc", "small"):
        done = run("sign", files[doc], "--pfx", files["pfx"], "--password-stdin", stdin=PASSWORD + "\n")
        assert done.returncode == 0, done.stderr
        files[f"{doc}.p7s"] = files[doc].with_name(files[doc].name + ".p7s")
    files["ber.p7s"] = d / "openssl-stream.p7s"
    done = subprocess.run(["openssl", "cms", "-sign", "-stream", "-nodetach", "-binary", "-in", files["doc"],
                           "-signer", files["cert"], "-inkey", files["key"], "-certfile", files["chain"],
                           "-outform", "DER", "-out", files["ber.p7s"]], capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert files["doc.p7s"].stat().st_size > der.MAX_BYTES
    return files


def trust(files: dict[str, Path], root: str = "root") -> list[object]:
    out: list[object] = ["--trust", files[root]]
    for name in sorted(k for k in files if k.startswith("crl")):
        out += ["--crl", files[name]]
    return out


@pytest.mark.parametrize("which", ["doc.p7s", "ber.p7s"])
def test_verify_a_big_attached_signature_in_constant_memory(big, which: str) -> None:
    small, small_peak = peak_kib("verify", big["small.p7s"], *trust(big))
    assert small.returncode == 0, small.stderr
    done, peak = peak_kib("verify", big[which], *trust(big))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"TOTAL-PASSED: 1 of 1 signature(s) valid (attached, {BIG} bytes signed)")
    # a bound, not a timing: the 80 MiB document never sits in memory (reading it whole would add 80 MiB+)
    assert peak < small_peak + 16 * 1024, (peak, small_peak)


@pytest.mark.parametrize("which", ["doc.p7s", "ber.p7s"])
def test_verify_out_writes_the_document_only_when_the_signature_passed(big, tmp_path: Path, which: str) -> None:
    out = tmp_path / "ariza.bin"
    done = run("verify", big[which], *trust(big), "--out", out)
    assert done.returncode == 0, done.stderr
    assert sha256(out) == sha256(big["doc"]) and out.stat().st_mode & 0o777 == 0o600
    untrusted = run("verify", big[which], *trust(big, "other"), "--out", tmp_path / "no.bin")
    assert untrusted.returncode == 3 and "not written" in untrusted.stderr
    assert not (tmp_path / "no.bin").exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    again = run("verify", big[which], *trust(big), "--out", out)
    assert again.returncode == 1 and "exists" in again.stderr


def test_a_changed_byte_in_a_big_attached_signature_fails(big, tmp_path: Path) -> None:
    bad = tmp_path / "bad.p7s"
    with open(big["doc.p7s"], "rb") as src, open(bad, "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    with open(bad, "r+b") as f:
        f.seek(BIG // 2)
        byte = f.read(1)
        f.seek(BIG // 2)
        f.write(bytes([byte[0] ^ 1]))
    done = run("verify", bad, *trust(big), "--out", tmp_path / "doc.bin")
    assert done.returncode == 1 and done.stdout.startswith("TOTAL-FAILED/HASH_FAILURE"), done.stdout
    assert not (tmp_path / "doc.bin").exists()


def test_truncated_and_garbage_big_files_are_format_failures(big, tmp_path: Path) -> None:
    cut = tmp_path / "cut.p7s"
    with open(big["doc.p7s"], "rb") as src, open(cut, "wb") as dst:
        dst.write(src.read(BIG // 2))
    garbage = tmp_path / "garbage.p7s"
    with open(garbage, "wb") as f:
        f.write(b"\x30\x84\x10\x00\x00\x00" + b"\x00" * (70 << 20))
    for path in (cut, garbage):
        done = run("verify", path, *trust(big))
        assert done.returncode == 1 and done.stdout.startswith("TOTAL-FAILED/FORMAT_FAILURE"), done.stdout
        assert "Traceback" not in done.stderr
        ext = run("extract", path, "-o", tmp_path / "x.bin")
        assert ext.returncode == 1 and len(ext.stderr.strip().splitlines()) == 1, ext.stderr
        assert not (tmp_path / "x.bin").exists()


def test_extract_writes_the_document_without_judging(big, tmp_path: Path) -> None:
    out = tmp_path / "doc.bin"
    done = run("extract", big["ber.p7s"], "-o", out)
    assert done.returncode == 0 and "not checked" in done.stderr, done.stderr
    assert sha256(out) == sha256(big["doc"])
    detached = tmp_path / "d.p7s"
    run("sign", big["small"], "--detached", "-o", detached, "--pfx", big["pfx"], "--password-stdin",
        stdin=PASSWORD + "\n")
    refused = run("extract", detached, "-o", tmp_path / "none.bin")
    assert refused.returncode == 1 and "detached" in refused.stderr and not (tmp_path / "none.bin").exists()


def test_the_library_validates_an_attached_signature_from_an_open_file(pki: PKI, big) -> None:
    validator = Validator([pki.root.cert], crls=pki.crls)
    with open(big["ber.p7s"], "rb") as f:
        report = validator.validate(f)
    assert report.passed and report.detached is False and report.content_size == BIG
    with open(big["doc.p7s"], "rb") as f, open(big["doc"], "rb") as doc:
        assert validator.validate(f, doc).passed
    with open(big["doc.p7s"], "rb") as f, open(big["small"], "rb") as other:
        assert "differs" in validator.validate(f, other).errors[0]
