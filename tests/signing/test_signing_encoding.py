"""Signatures handed over as PEM or base64 (E-IMZO's form) are read wherever a signature is read."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization

from signing import cms, der, encoding
from signing.imzo import main
from signing.validate import Validator, validate

from signing_pki import PKI

DOC = "Ariza: uy-joy bo'yicha ma'lumotnoma so'rayman.\n".encode() * 40


def openssl(*args: object) -> bytes:
    done = subprocess.run(["openssl", *map(str, args)], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


@pytest.fixture
def forms(pki: PKI, tmp_path: Path) -> dict[str, bytes]:
    """The citizen's signature over DOC from `openssl cms` as DER, PEM, base64 (wrapped and one line)."""
    cert, key, doc = tmp_path / "c.pem", tmp_path / "c.key", tmp_path / "doc.txt"
    cert.write_bytes(pki.citizen.cert.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(pki.citizen.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    doc.write_bytes(DOC)
    chain = tmp_path / "chain.pem"
    chain.write_bytes(pki.issuing.cert.public_bytes(serialization.Encoding.PEM))
    out: dict[str, bytes] = {}
    for kind, flags in (("attached", ["-nodetach"]), ("detached", [])):
        der_file = tmp_path / f"{kind}.der"
        openssl("cms", "-sign", "-binary", "-in", doc, "-signer", cert, "-inkey", key, "-certfile", chain,
                "-outform", "DER", "-out", der_file, *flags)
        out[f"{kind}-der"] = der_file.read_bytes()
        out[f"{kind}-pem"] = openssl("cms", "-sign", "-binary", "-in", doc, "-signer", cert, "-inkey", key,
                                     "-certfile", chain, "-outform", "PEM", *flags)
        out[f"{kind}-b64"] = openssl("base64", "-in", der_file)  # 64-character lines
        out[f"{kind}-b64-oneline"] = openssl("base64", "-A", "-in", der_file)
    assert out["attached-pem"].startswith(b"-----BEGIN CMS-----")
    return out


TEXT_FORMS = ["pem", "b64", "b64-oneline"]


@pytest.mark.parametrize("form", TEXT_FORMS)
def test_validator_reads_pem_and_base64(validator: Validator, pki: PKI, forms, form: str) -> None:
    attached = validator.validate(forms[f"attached-{form}"])
    assert attached.passed, attached.to_json(indent=1)
    detached = validator.validate(forms[f"detached-{form}"], DOC)
    assert detached.passed, detached.to_json(indent=1)
    once = validate(forms[f"attached-{form}"], trust_roots=[pki.root.cert], crls=pki.crls)
    assert once.passed


@pytest.mark.parametrize("form", TEXT_FORMS)
def test_cms_operations_read_pem_and_base64(validator: Validator, pki: PKI, forms, form: str) -> None:
    attached, detached = forms[f"attached-{form}"], forms[f"detached-{form}"]
    assert cms.content_of(attached) == DOC
    assert cms.content_of(detached) is None
    both = cms.cosign(attached, pki.employee.signer())
    assert validator.validate(both).valid_signatures_count == 2
    joined = cms.join(detached, cms.sign(DOC, pki.employee.signer(), detached=True))
    assert validator.validate(joined, DOC).valid_signatures_count == 2
    made = cms.make_attached(detached, DOC)
    assert cms.content_of(made) == DOC and validator.validate(made).passed
    stamped, which = cms.add_timestamp(attached, pki.tsa())
    assert which == [0] and der.read_signed_data(stamped).signer_infos[0].unsigned_attrs


def test_imzo_commands_read_pem_and_base64(forms, pki: PKI, tmp_path: Path) -> None:
    root = tmp_path / "root.pem"
    root.write_bytes(pki.root.cert.public_bytes(serialization.Encoding.PEM))
    crls = []
    for i, crl in enumerate(pki.crls):
        crls += ["--crl", tmp_path / f"crl{i}.pem"]
        (tmp_path / f"crl{i}.pem").write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    doc = tmp_path / "doc.txt"
    doc.write_bytes(DOC)
    pfx = tmp_path / "employee.pfx"
    from keystore.pfx import encrypt_key

    pfx.write_bytes(encrypt_key(pki.employee.key, b"employee-pw", pki.employee.cert, pki.employee.chain,
                                kdf_rounds=1000))

    def imzo(*args: object, stdin: str | None = None):
        return CliRunner().invoke(main, [str(a) for a in args], input=stdin)

    other = tmp_path / "d-der.p7s"
    other.write_bytes(forms["detached-der"])
    for form in TEXT_FORMS:
        sig = tmp_path / f"a-{form}.p7s"
        sig.write_bytes(forms[f"attached-{form}"])
        v = imzo("verify", sig, "--trust", root, *crls)
        assert v.exit_code == 0 and v.output.startswith("TOTAL-PASSED"), v.output
        d = tmp_path / f"d-{form}.p7s"
        d.write_bytes(forms[f"detached-{form}"])
        v = imzo("verify", doc, d, "--trust", root, *crls)
        assert v.exit_code == 0 and v.output.startswith("TOTAL-PASSED"), v.output
        co = imzo("cosign", sig, "-o", tmp_path / f"co-{form}.p7s", "--pfx", pfx, "--password-stdin",
                  stdin="employee-pw\n")
        assert co.exit_code == 0 and "now has 2 signers" in co.output, co.output
        j = imzo("join", d, other, "--content", doc, "-o", tmp_path / f"j-{form}.p7s")
        assert j.exit_code == 0, j.output


@pytest.mark.parametrize("blob,message", [
    (b"hello, this is not a signature", "neither DER, PEM nor base64"),
    (b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "not a signature"),
    (b"-----BEGIN CMS-----\nMIIB\n-----END PKCS7-----\n", "begins as 'CMS' but ends as 'PKCS7'"),
    (b"-----BEGIN CMS-----\nMIIB\n", "incomplete"),
    (b"-----BEGIN CMS-----\n!!!!\n-----END CMS-----\n", "not base64"),
    (b"aGVsbG8gd29ybGQ=", "does not decode to a DER CMS structure"),
    (b"", "empty"),
])
def test_garbage_text_is_refused_clearly(validator: Validator, blob: bytes, message: str) -> None:
    with pytest.raises(der.MalformedSignature, match=message):
        encoding.signature_der(blob)
    report = validator.validate(blob)
    assert report.sub_indication is not None and report.sub_indication.value == "FORMAT_FAILURE"
    assert any(message in e for e in report.errors), report.errors
    with pytest.raises(der.MalformedSignature, match=message):
        cms.content_of(blob)


def test_text_over_the_limit_is_refused_unread() -> None:
    limit = encoding.max_text_bytes(1000)
    with pytest.raises(der.MalformedSignature, match="the limit is"):
        encoding.signature_der(b"A" * (limit + 1), max_bytes=1000)
