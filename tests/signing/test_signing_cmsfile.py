"""signing.cmsfile reads attached signatures in place; hostile files are refused with a reason."""
from __future__ import annotations

import io

import pytest

from signing import cms, cmsfile, der
from signing.validate import Validator

from signing_pki import PKI

DOC = b"Ariza matni. " * 500


def _pieces(signature: bytes, pieces: list[bytes]) -> bytes:
    """*signature* re-written as `openssl cms -stream` writes one: indefinite lengths, eContent in *pieces*."""
    sd = der.read_signed_data(signature)
    eoc = b"\x00\x00"
    return (b"\x30\x80" + der.tlv(0x06, bytes.fromhex("2a864886f70d010702")) + b"\xa0\x80\x30\x80"
            + der.tlv(0x02, bytes([sd.version])) + der.tlv(0x31, b"".join(sd.digest_algorithms))
            + b"\x30\x80" + der.tlv(0x06, bytes.fromhex("2a864886f70d010701"))
            + b"\xa0\x80\x24\x80" + b"".join(pieces) + eoc + eoc + eoc
            + der.tlv(0xA0, b"".join(sd.certificates)) + der.tlv(0x31, b"".join(si.der for si in sd.signer_infos))
            + eoc + eoc + eoc)


@pytest.fixture
def attached(pki: PKI) -> bytes:
    return cms.sign(DOC, pki.citizen.signer())


def test_ber_pieces_with_empty_ones_read_back_and_validate(attached: bytes, validator: Validator) -> None:
    blob = _pieces(attached, [der.tlv(0x04, DOC[:100]), b"\x04\x00", der.tlv(0x04, DOC[100:])])
    sd, content = cmsfile.read(io.BytesIO(blob))
    assert content.read() == DOC and content.size == len(DOC)
    assert validator.validate(io.BytesIO(blob)).passed


@pytest.mark.parametrize("pieces,message", [
    ([b"\x24\x80" + der.tlv(0x04, DOC) + b"\x00\x00"], "not a primitive OCTET STRING"),
    ([der.tlv(0x02, DOC)], "not a primitive OCTET STRING"),
])
def test_hostile_pieces_are_refused(attached: bytes, validator: Validator, pieces, message: str) -> None:
    blob = _pieces(attached, pieces)
    with pytest.raises(der.MalformedSignature, match=message):
        cmsfile.read(io.BytesIO(blob))
    report = validator.validate(io.BytesIO(blob))
    assert report.sub_indication.value == "FORMAT_FAILURE" and message in report.errors[0]


def test_too_many_pieces_are_refused(attached: bytes, monkeypatch) -> None:
    monkeypatch.setattr(cmsfile, "MAX_CONTENT_CHUNKS", 10)
    blob = _pieces(attached, [der.tlv(0x04, DOC[i:i + 100]) for i in range(0, len(DOC), 100)])
    with pytest.raises(der.MalformedSignature, match="more than 10 pieces"):
        cmsfile.read(io.BytesIO(blob))


@pytest.mark.parametrize("cut", [1, 10, 100, len(DOC) // 2])
def test_truncated_and_padded_files_are_refused(attached: bytes, cut: int) -> None:
    with pytest.raises(der.MalformedSignature):
        cmsfile.read(io.BytesIO(attached[:-cut]))
    with pytest.raises(der.MalformedSignature, match="trailing bytes"):
        cmsfile.read(io.BytesIO(attached + b"\x00" * cut))


def test_a_detached_signature_has_no_embedded_content(pki: PKI) -> None:
    sd, content = cmsfile.read(io.BytesIO(cms.sign(DOC, pki.citizen.signer(), detached=True)))
    assert content is None and len(sd.signer_infos) == 1
