"""Signature blobs as people hand them over: DER, PEM or bare base64, always read back as DER.

E-IMZO hands out base64 CMS, `openssl cms -outform PEM` writes `-----BEGIN CMS-----` (older tools
`PKCS7` or `PKCS #7 SIGNED DATA`, RFC 7468 section 10), and our own tools write DER. `signature_der`
is the one place that tells them apart; every entry that reads a signature calls it before
`der.read_signed_data`. DER (a SEQUENCE, first byte 0x30) passes through untouched, so the fast path
costs one byte comparison.
"""
from __future__ import annotations

import binascii
import re

from .der import MAX_BYTES, MalformedSignature

#: PEM labels a CMS signature goes by (RFC 7468 section 10 names "CMS" and the legacy "PKCS7").
PEM_LABELS = ("CMS", "PKCS7", "PKCS #7 SIGNED DATA")
#: How much bigger text is than its DER: base64 grows 4/3, and a CR LF every 64 characters adds 2/64.
#: Text longer than the DER limit allows is refused unread, so a "signature" of gigabytes of text is
#: never decoded into memory first.
_TEXT_GROWTH = 4 / 3 * 66 / 64
#: Armour lines, a BOM and stray blank lines around the base64 body.
_TEXT_SLACK = 4096
_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 #]{1,40})-----(.*?)-----END ([A-Z0-9 #]{1,40})-----", re.S)
_WHITESPACE = b" \t\r\n\v\f"
_DER_SEQUENCE = 0x30


def max_text_bytes(max_bytes: int = MAX_BYTES) -> int:
    """Largest PEM or base64 text whose DER can fit under *max_bytes*."""
    return int(max_bytes * _TEXT_GROWTH) + _TEXT_SLACK


def signature_der(blob: bytes | bytearray | memoryview, *, max_bytes: int = MAX_BYTES) -> bytes:
    """The DER (or BER) of a CMS signature given as DER, PEM or bare base64 (line breaks allowed).

    Raises MalformedSignature saying which form was expected when *blob* is none of them.
    """
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise MalformedSignature(f"signature must be bytes, not {type(blob).__name__}")
    blob = bytes(blob)
    if not blob:
        raise MalformedSignature("signature is empty")
    if blob[0] == _DER_SEQUENCE:
        return blob  # DER/BER: its size and structure are read_signed_data's to check
    limit = max_text_bytes(max_bytes)
    if len(blob) > limit:
        raise MalformedSignature(
            f"signature text is {len(blob)} bytes; the limit is {limit} bytes (base64 of {max_bytes} bytes)")
    text = blob.removeprefix(b"\xef\xbb\xbf").strip(_WHITESPACE)
    if text.startswith(b"-----BEGIN "):
        body = _pem_body(text)
        what = "PEM signature"
    else:
        body = text
        what = "base64 signature"
    try:
        decoded = binascii.a2b_base64(body.translate(None, _WHITESPACE), strict_mode=True)
    except (binascii.Error, ValueError):
        if what == "base64 signature":
            raise MalformedSignature(
                "signature is neither DER, PEM nor base64 (it does not start with a DER SEQUENCE, "
                "'-----BEGIN', or base64 text)") from None
        raise MalformedSignature(f"the {what} has a body that is not base64") from None
    if not decoded or decoded[0] != _DER_SEQUENCE:
        raise MalformedSignature(f"the {what} does not decode to a DER CMS structure")
    return decoded


def _pem_body(text: bytes) -> bytes:
    match = _PEM.fullmatch(text)
    if match is None:
        raise MalformedSignature("PEM signature is incomplete: it needs one -----BEGIN/-----END pair and nothing else")
    begin, body, end = match.group(1).decode(), match.group(2), match.group(3).decode()
    if begin != end:
        raise MalformedSignature(f"PEM signature begins as {begin!r} but ends as {end!r}")
    if begin not in PEM_LABELS:
        raise MalformedSignature(
            f"PEM block is a {begin!r}, not a signature; expected one of {', '.join(PEM_LABELS)}")
    return body
