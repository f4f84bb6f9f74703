"""DER for CMS: encoding helpers for the fast signing path, and a safe reader for signatures from outside.

`read_signed_data` is how every signature blob is read: a size cap, then a strict walk of the fixed
CMS schema that checks every length against its container and keeps the signed parts as the exact
bytes received (so validation verifies what was signed, and co-signing never re-encodes it). Its
depth is bounded by the schema. Only BER from other tools (indefinite lengths) goes to asn1crypto for
normalising, and only after `check` has walked every header without recursion under a nesting cap,
because asn1crypto parses recursively and believes the lengths it reads.
"""
from __future__ import annotations

from datetime import datetime

from asn1crypto import cms as a_cms

from . import oids
from .errors import SigningError

#: Largest signature blob accepted by default (an attached signature carries its content).
MAX_BYTES = 64 * 1024 * 1024
#: Deepest nesting of constructed values accepted by default; real CMS stays under 25.
MAX_DEPTH = 48
#: More signers or certificates than this in one signature is an attack, not a document.
MAX_SIGNERS = 256
MAX_CERTIFICATES = 512
#: Most children read from one SET or SEQUENCE (attributes, digest algorithms, CRLs...); each becomes a
#: Python object, so millions of two-byte elements would otherwise cost gigabytes.
MAX_CHILDREN = 1024
#: Most values in a BER blob handed to asn1crypto (which builds an object for every one). Content
#: chunked by other tools stays well under this.
MAX_ELEMENTS = 1 << 18


class MalformedSignature(SigningError):
    """The signature blob is not well-formed DER/BER CMS, or breaks a size or depth limit."""


def length(n: int) -> bytes:
    """DER length octets for a body of *n* bytes."""
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def tlv(tag: int, body: bytes) -> bytes:
    """One DER value: single-byte *tag*, length, *body*."""
    n = len(body)
    if n < 0x80:
        return bytes((tag, n)) + body
    if n < 0x100:
        return bytes((tag, 0x81, n)) + body
    if n < 0x10000:
        return bytes((tag, 0x82, n >> 8, n & 0xFF)) + body
    return bytes((tag,)) + length(n) + body


def check(blob: bytes, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH, what: str = "signature") -> None:
    """Walk every TLV header of *blob* iteratively; raise MalformedSignature on anything hostile.

    Accepts DER and the BER forms other tools emit (indefinite lengths, constructed strings).
    """
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise MalformedSignature(f"{what} must be bytes, not {type(blob).__name__}")
    size = len(blob)
    if size == 0:
        raise MalformedSignature(f"{what} is empty")
    if size > max_bytes:
        raise MalformedSignature(f"{what} is {size} bytes; the limit is {max_bytes} bytes")
    buf = bytes(blob) if not isinstance(blob, bytes) else blob
    pos = 0
    # stack of container ends; -1 marks an indefinite-length container awaiting 00 00
    stack: list[int] = []
    limit = size
    elements = 0
    while True:
        if stack:
            end = stack[-1]
            if end >= 0 and pos == end:
                stack.pop()
                continue
            if end < 0 and pos + 2 <= size and buf[pos] == 0 and buf[pos + 1] == 0:
                stack.pop()
                pos += 2
                continue
        elif pos == size:
            return
        elif pos > 0:
            raise MalformedSignature(f"{what} has {size - pos} trailing bytes after the DER value")
        limit = size
        for e in reversed(stack):
            if e >= 0:
                limit = e
                break
        if pos >= limit:
            raise MalformedSignature(
                f"{what} is truncated or inconsistent at byte {pos}: a value overruns its container")
        elements += 1
        if elements > MAX_ELEMENTS:
            raise MalformedSignature(f"{what} has more than {MAX_ELEMENTS} values; refused")
        tag = buf[pos]
        pos += 1
        if tag & 0x1F == 0x1F:  # high tag number form
            for _ in range(5):
                if pos >= limit:
                    raise MalformedSignature(f"{what} is truncated inside a tag at byte {pos}")
                b = buf[pos]
                pos += 1
                if not b & 0x80:
                    break
            else:
                raise MalformedSignature(f"{what} has an over-long tag at byte {pos}")
        if pos >= limit:
            raise MalformedSignature(f"{what} is truncated: a length is missing at byte {pos}")
        first = buf[pos]
        pos += 1
        constructed = bool(tag & 0x20)
        if first == 0x80:
            if not constructed:
                raise MalformedSignature(f"{what} uses an indefinite length on a primitive value at byte {pos - 2}")
            stack.append(-1)
        else:
            if first & 0x80:
                count = first & 0x7F
                if count > 8 or pos + count > limit:
                    raise MalformedSignature(f"{what} is truncated or has an impossible length at byte {pos - 1}")
                n = int.from_bytes(buf[pos : pos + count], "big")
                pos += count
            else:
                n = first
            if pos + n > limit:
                raise MalformedSignature(
                    f"{what} is truncated: a value at byte {pos} claims {n} bytes but only {limit - pos} remain"
                )
            if constructed:
                stack.append(pos + n)
            else:
                if tag in (0x06, 0x0D) and n > MAX_OID_BYTES:  # asn1crypto parses OIDs in quadratic time
                    raise MalformedSignature(f"{what} has an object identifier of {n} bytes at byte {pos}")
                pos += n
        if len(stack) > max_depth:
            raise MalformedSignature(f"{what} nests deeper than {max_depth} levels; refused")
        if stack and stack[-1] < 0 and pos >= size:
            raise MalformedSignature(f"{what} is truncated: an indefinite-length value never ends")


# --- a strict, schema-driven SignedData reader ---------------------------------------------------
#
# asn1crypto re-serialises what it parsed and costs milliseconds per signature; validation must run
# thousands of times per second. This reader walks only the fixed CMS schema (so its depth is bounded
# by construction), keeps every part as the exact bytes that were signed, and never trusts a length.
# BER input (indefinite lengths, constructed strings) is normalised once through asn1crypto after
# `check` has walked it.

_SIGNED_DATA_OID_BODY = bytes.fromhex("2a864886f70d010702")


class _NeedsBer(Exception):
    pass


def _hdr(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the value at *pos*, which must end by *end*."""
    if pos + 2 > end:
        raise MalformedSignature(f"signature is truncated at byte {pos}")
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise MalformedSignature(f"unexpected high-number tag at byte {pos}")
    n = buf[pos + 1]
    p = pos + 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0:
            raise _NeedsBer
        if k > 4 or p + k > end:
            raise MalformedSignature(f"signature has an impossible length at byte {pos + 1}")
        n = int.from_bytes(buf[p : p + k], "big")
        p += k
    if p + n > end:
        raise MalformedSignature(f"signature is truncated: a value at byte {pos} claims {n} bytes, {end - p} remain")
    return tag, p, p + n


def _children(buf: bytes, start: int, end: int, limit: int = MAX_CHILDREN) -> list[tuple[int, int, int, int]]:
    """[(tag, header start, content start, content end)] of the values between start and end (at most *limit*)."""
    out: list[tuple[int, int, int, int]] = []
    append = out.append
    pos = start
    while pos < end:
        if len(out) >= limit:
            raise MalformedSignature(f"signature has more than {limit} values in one SET or SEQUENCE; refused")
        if pos + 2 > end:
            raise MalformedSignature(f"signature is truncated at byte {pos}")
        tag = buf[pos]
        n = buf[pos + 1]
        p = pos + 2
        if n & 0x80:
            k = n & 0x7F
            if k == 0:
                raise _NeedsBer
            if k > 4 or p + k > end:
                raise MalformedSignature(f"signature has an impossible length at byte {pos + 1}")
            n = int.from_bytes(buf[p : p + k], "big")
            p += k
        e = p + n
        if e > end:
            raise MalformedSignature(
                f"signature is truncated: a value at byte {pos} claims {n} bytes, {end - p} remain")
        if tag & 0x1F == 0x1F:
            raise MalformedSignature(f"unexpected high-number tag at byte {pos}")
        append((tag, pos, p, e))
        pos = e
    return out


def _expect(buf: bytes, pos: int, end: int, tag: int, what: str) -> tuple[int, int]:
    t, s, e = _hdr(buf, pos, end)
    if t != tag:
        if t == 0x24 and tag == 0x04:
            raise _NeedsBer
        raise MalformedSignature(f"{what}: expected tag 0x{tag:02x}, found 0x{t:02x} at byte {pos}")
    return s, e


_OID_CACHE: dict[bytes, str] = {}
#: Longest OBJECT IDENTIFIER body read; real ones are under 30 bytes. Arcs are accumulated into one
#: integer, so an unbounded body (megabytes fit under MAX_BYTES) costs quadratic time.
MAX_OID_BYTES = 128


def oid(body: bytes) -> str:
    """Dotted form of an OBJECT IDENTIFIER's content octets."""
    got = _OID_CACHE.get(body)
    if got is not None:
        return got
    if not body or body[-1] & 0x80:
        raise MalformedSignature("malformed object identifier")
    if len(body) > MAX_OID_BYTES:
        raise MalformedSignature(f"object identifier of {len(body)} bytes; the limit is {MAX_OID_BYTES}")
    parts: list[int] = []
    value = 0
    for b in body:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(value)
            value = 0
    first = parts[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    dotted = ".".join(map(str, head + parts[1:]))
    if len(_OID_CACHE) < 10_000:
        _OID_CACHE[body] = dotted
    return dotted


def digest_name(oid_dotted: str) -> str:
    """'sha256' for its OID; the dotted OID itself when unknown."""
    return oids.DIGEST_NAMES.get(oid_dotted, oid_dotted)


class Attribute:
    """One CMS attribute: its OID and each value's whole DER."""

    __slots__ = ("oid", "values", "der")

    def __init__(self, oid_: str, values: list[bytes], der_: bytes) -> None:
        self.oid, self.values, self.der = oid_, values, der_


def _attributes(buf: bytes, start: int, end: int) -> list[Attribute]:
    out = []
    for tag, h, s, e in _children(buf, start, end):
        if tag != 0x30:
            raise MalformedSignature("an attribute is not a SEQUENCE")
        t1, os_, oe = _hdr(buf, s, e)
        if t1 != 0x06 or oe >= e:
            raise MalformedSignature("an attribute is not (type, SET OF values)")
        t2, vs, ve = _hdr(buf, oe, e)
        if t2 != 0x31 or ve != e or vs == ve:
            raise MalformedSignature("an attribute is not (type, SET OF values) or has no value")
        _, _, first_end = _hdr(buf, vs, ve)
        if first_end == ve:  # the usual single value
            values = [buf[vs:ve]]
        else:
            values = [buf[vh:ve2] for _, vh, _, ve2 in _children(buf, vs, ve)]
        out.append(Attribute(oid(buf[os_:oe]), values, buf[h:e]))
    return out


class SignerInfoView:
    """A SignerInfo as exact bytes plus the fields validation needs."""

    __slots__ = (
        "der", "version", "sid_issuer", "sid_serial", "sid_ski", "digest_oid", "digest_name",
        "signature_oid", "signature_params", "signed_attrs_der", "signed_attrs", "signature",
        "unsigned_attrs", "der_without_unsigned",
    )

    def __init__(self, buf: bytes, h: int, s: int, e: int) -> None:
        self.der = buf[h:e]
        kids = _children(buf, s, e)
        if len(kids) < 5:
            raise MalformedSignature("a SignerInfo has too few fields")
        i = 0
        t, _, vs, ve = kids[i]
        if t != 0x02:
            raise MalformedSignature("SignerInfo version is not an INTEGER")
        self.version = int.from_bytes(buf[vs:ve], "big", signed=True)
        i += 1
        t, _, ss, se = kids[i]
        self.sid_issuer = self.sid_serial = self.sid_ski = None
        if t == 0x30:
            sid = _children(buf, ss, se)
            if len(sid) != 2 or sid[0][0] != 0x30 or sid[1][0] != 0x02:
                raise MalformedSignature("SignerInfo sid is not (issuer, serialNumber)")
            self.sid_issuer = buf[sid[0][1] : sid[0][3]]
            self.sid_serial = int.from_bytes(buf[sid[1][2] : sid[1][3]], "big", signed=True)
        elif t == 0x80:
            self.sid_ski = buf[ss:se]
        else:
            raise MalformedSignature("SignerInfo sid is neither issuerAndSerialNumber nor subjectKeyIdentifier")
        i += 1
        t, _, ds, de = kids[i]
        if t != 0x30:
            raise MalformedSignature("SignerInfo digestAlgorithm is not a SEQUENCE")
        ds_, de_ = _expect(buf, ds, de, 0x06, "digestAlgorithm")
        self.digest_oid = oid(buf[ds_:de_])
        self.digest_name = digest_name(self.digest_oid)
        i += 1
        self.signed_attrs_der = None
        self.signed_attrs: list[Attribute] = []
        t, ah, as_, ae = kids[i]
        if t == 0xA0:
            self.signed_attrs_der = buf[ah:ae]
            self.signed_attrs = _attributes(buf, as_, ae)
            i += 1
        if i + 1 >= len(kids):
            raise MalformedSignature("a SignerInfo lacks its signature")
        t, _, gs, ge = kids[i]
        if t != 0x30:
            raise MalformedSignature("SignerInfo signatureAlgorithm is not a SEQUENCE")
        alg = _children(buf, gs, ge)
        if not alg or alg[0][0] != 0x06:
            raise MalformedSignature("SignerInfo signatureAlgorithm has no OID")
        self.signature_oid = oid(buf[alg[0][2] : alg[0][3]])
        self.signature_params = buf[alg[1][1] : alg[1][3]] if len(alg) > 1 else None
        i += 1
        t, _, ss, se = kids[i]
        if t != 0x04:
            raise MalformedSignature("SignerInfo signature is not an OCTET STRING")
        self.signature = buf[ss:se]
        i += 1
        self.der_without_unsigned = buf[kids[0][1] : kids[i - 1][3]]
        self.unsigned_attrs: list[Attribute] = []
        if i < len(kids):
            t, _, us, ue = kids[i]
            if t != 0xA1 or i + 1 != len(kids):
                raise MalformedSignature("unexpected fields after the SignerInfo signature")
            self.unsigned_attrs = _attributes(buf, us, ue)

    def signed_attribute(self, oid_dotted: str) -> Attribute | None:
        for a in self.signed_attrs:
            if a.oid == oid_dotted:
                return a
        return None


class SignedDataView:
    """A ContentInfo/SignedData read once; every part kept as the exact bytes received."""

    __slots__ = ("version", "digest_algorithms", "content_type", "content", "certificates", "crls",
                 "signer_infos")

    def __init__(self, buf: bytes) -> None:
        s, e = _expect(buf, 0, len(buf), 0x30, "ContentInfo")
        if e != len(buf):
            raise MalformedSignature(f"signature has {len(buf) - e} trailing bytes after the DER value")
        kids = _children(buf, s, e)
        if len(kids) != 2 or kids[0][0] != 0x06 or kids[1][0] != 0xA0:
            raise MalformedSignature("not a CMS ContentInfo (contentType, [0] content)")
        if buf[kids[0][2] : kids[0][3]] != _SIGNED_DATA_OID_BODY:
            raise MalformedSignature(f"CMS content type is {oid(buf[kids[0][2]:kids[0][3]])}, not signed data")
        s, e = _expect(buf, kids[1][2], kids[1][3], 0x30, "SignedData")
        sd = _children(buf, s, e)
        if len(sd) < 4:
            raise MalformedSignature("SignedData has too few fields")
        if sd[0][0] != 0x02 or sd[1][0] != 0x31 or sd[2][0] != 0x30:
            raise MalformedSignature("SignedData is not (version, digestAlgorithms, encapContentInfo, ...)")
        self.version = int.from_bytes(buf[sd[0][2] : sd[0][3]], "big", signed=True)
        self.digest_algorithms = [buf[h:e2] for _, h, _, e2 in _children(buf, sd[1][2], sd[1][3])]
        eci = _children(buf, sd[2][2], sd[2][3])
        if not eci or eci[0][0] != 0x06 or len(eci) > 2:
            raise MalformedSignature("encapContentInfo is not (eContentType, [0] eContent)")
        self.content_type = oid(buf[eci[0][2] : eci[0][3]])
        self.content = None
        if len(eci) == 2:
            if eci[1][0] != 0xA0:
                raise MalformedSignature("eContent is not [0] EXPLICIT")
            cs, ce = _expect(buf, eci[1][2], eci[1][3], 0x04, "eContent")
            if ce != eci[1][3]:
                raise MalformedSignature("eContent has trailing bytes")
            self.content = buf[cs:ce]
        self.certificates: list[bytes] = []
        self.crls: list[bytes] = []
        rest = sd[3:]
        if rest and rest[0][0] == 0xA0:
            self.certificates = [buf[h:e2] for _, h, _, e2 in _children(buf, rest[0][2], rest[0][3],
                                                                         MAX_CERTIFICATES + 1)]
            if len(self.certificates) > MAX_CERTIFICATES:
                raise MalformedSignature(f"signature carries {len(self.certificates)} certificates; "
                                         f"the limit is {MAX_CERTIFICATES}")
            rest = rest[1:]
        if rest and rest[0][0] == 0xA1:
            self.crls = [buf[h:e2] for _, h, _, e2 in _children(buf, rest[0][2], rest[0][3])]
            rest = rest[1:]
        if len(rest) != 1 or rest[0][0] != 0x31:
            raise MalformedSignature("SignedData lacks its signerInfos SET")
        infos = _children(buf, rest[0][2], rest[0][3], MAX_SIGNERS + 1)
        if len(infos) > MAX_SIGNERS:
            raise MalformedSignature(f"signature has {len(infos)} signers; the limit is {MAX_SIGNERS}")
        self.signer_infos = [SignerInfoView(buf, h, s2, e2) for t, h, s2, e2 in infos
                             if t == 0x30 or _bad("a SignerInfo is not a SEQUENCE")]
        if not self.signer_infos:
            raise MalformedSignature("CMS SignedData has no signers")


def read_signer_info(value: bytes) -> SignerInfoView:
    """A whole-DER SignerInfo on its own (one we just made, before it goes into a SignedData)."""
    t, s, e = _hdr(value, 0, len(value))
    if t != 0x30 or e != len(value):
        raise MalformedSignature("a SignerInfo is not one DER SEQUENCE")
    return SignerInfoView(value, 0, s, e)


def _bad(message: str) -> bool:
    raise MalformedSignature(message)


def read_signed_data(blob: bytes, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> SignedDataView:
    """Parse a CMS signature (DER, or BER from other tools) into a SignedDataView.

    Raises MalformedSignature with a readable reason for anything that is not a sound SignedData.
    """
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise MalformedSignature(f"signature must be bytes, not {type(blob).__name__}")
    if len(blob) > max_bytes:
        raise MalformedSignature(f"signature is {len(blob)} bytes; the limit is {max_bytes} bytes")
    if not blob:
        raise MalformedSignature("signature is empty")
    buf = bytes(blob)
    try:
        return SignedDataView(buf)
    except _NeedsBer:
        pass
    except (ValueError, IndexError, OverflowError) as exc:
        raise MalformedSignature(f"not a CMS SignedData structure: {exc}") from None
    # BER from another tool: walk it safely, let asn1crypto re-encode it as DER, read that.
    check(buf, max_bytes=max_bytes, max_depth=max_depth)
    try:
        normalised = a_cms.ContentInfo.load(buf).dump(force=True)
    except Exception as exc:  # noqa: BLE001 - asn1crypto raises many types on bad input
        raise MalformedSignature(f"not a CMS SignedData structure: {exc}") from None
    try:
        return SignedDataView(normalised)
    except _NeedsBer:
        raise MalformedSignature("signature uses BER forms that cannot be normalised") from None
    except (ValueError, IndexError, OverflowError) as exc:
        raise MalformedSignature(f"not a CMS SignedData structure: {exc}") from None


_TIME_CACHE: dict[bytes, "datetime"] = {}


def read_time(value: bytes) -> "datetime":
    """A UTCTime or GeneralizedTime value (whole DER) as an aware UTC datetime."""
    got = _TIME_CACHE.get(value)
    if got is None:
        got = _read_time(value)
        if len(_TIME_CACHE) >= 4096:
            _TIME_CACHE.clear()
        _TIME_CACHE[value] = got
    return got


def _read_time(value: bytes) -> "datetime":
    from datetime import datetime, timezone

    tag = value[0] if value else 0
    body = value[2:] if len(value) > 2 and value[1] < 0x80 else b""
    try:
        text = body.decode("ascii")
        if tag == 0x17 and len(text) == 13 and text[12] == "Z" and text[:12].isdigit():
            year = int(text[:2])
            return datetime(year + (1900 if year >= 50 else 2000), int(text[2:4]), int(text[4:6]),
                            int(text[6:8]), int(text[8:10]), int(text[10:12]), tzinfo=timezone.utc)
        if tag == 0x18 and text.endswith("Z"):
            fmt = "%Y%m%d%H%M%S.%fZ" if "." in text else "%Y%m%d%H%M%SZ"
            return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
        from asn1crypto import core as a_core

        loaded = (a_core.UTCTime if tag == 0x17 else a_core.GeneralizedTime).load(value).native
        if not isinstance(loaded, datetime):  # asn1crypto's extended_datetime: the year 0, which datetime lacks
            raise ValueError(f"year 0 is out of range ({type(loaded).__name__})")
        return loaded.astimezone(timezone.utc)
    except Exception as exc:  # noqa: BLE001
        raise MalformedSignature(f"unreadable time value: {exc}") from None


def read_octets(value: bytes) -> bytes:
    """Content of a whole-DER OCTET STRING."""
    s, e = _expect(value, 0, len(value), 0x04, "OCTET STRING")
    if e != len(value):
        raise MalformedSignature("OCTET STRING has trailing bytes")
    return value[s:e]


def read_oid(value: bytes) -> str:
    """Dotted form of a whole-DER OBJECT IDENTIFIER."""
    s, e = _expect(value, 0, len(value), 0x06, "OBJECT IDENTIFIER")
    return oid(value[s:e])


def children(value: bytes) -> list[bytes]:
    """Whole-DER children of a constructed whole-DER value."""
    t, s, e = _hdr(value, 0, len(value))
    if not t & 0x20:
        raise MalformedSignature("expected a constructed value")
    return [value[h:e2] for _, h, _, e2 in _children(value, s, e)]


def content_of(value: bytes) -> bytes:
    """Content octets of a whole-DER value."""
    _, s, e = _hdr(value, 0, len(value))
    return value[s:e]


def read_tst_info(tst: bytes) -> tuple[str, bytes, "datetime"]:
    """(hash name, hashed message, genTime) from TSTInfo DER (RFC 3161)."""
    kids = children(tst)
    if len(kids) < 5:
        raise MalformedSignature("TSTInfo has too few fields")
    imprint = children(kids[2])
    if len(imprint) != 2:
        raise MalformedSignature("TSTInfo messageImprint is not (hashAlgorithm, hashedMessage)")
    alg = children(imprint[0])
    return digest_name(read_oid(alg[0])), read_octets(imprint[1]), read_time(kids[4])
