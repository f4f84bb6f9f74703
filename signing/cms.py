"""CMS (RFC 5652) signatures with CAdES-BES attributes: sign, co-sign, join, timestamp (CAdES-T).

A signature is a ContentInfo/SignedData, attached (the content inside) or detached. Each signer gets the
four CAdES-BES signed attributes: content-type, message-digest, signing-time and signing-certificate-v2.

Signing is the hot path of a portal's seal and of `imzo sign`, so the DER is assembled from bytes: the
parts that never change for a signer (its certificates, identifiers, the signing-certificate-v2
attribute) are encoded once in `Signer`; per signature only the digest, the time and the signature value
are encoded. Co-signing, joining and timestamping re-use the encoded bytes of existing parts untouched,
so earlier signatures stay valid. Validation lives apart in `signing.validate`.
"""
from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Callable, Iterable

from asn1crypto import cms as a_cms
from asn1crypto import core as a_core
from asn1crypto import tsp as a_tsp
from asn1crypto import x509 as a_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from . import algorithms, der, encoding, oids
from .algorithms import Algorithm
from .errors import SigningError
from .prehash import file_digest

DATA = oids.DATA
TST_INFO = oids.TST_INFO
SIGNED_DATA = oids.SIGNED_DATA
SIGNATURE_TIMESTAMP = oids.ATTR_SIGNATURE_TIMESTAMP
MESSAGE_DIGEST = oids.ATTR_MESSAGE_DIGEST

#: Bytes read per step when hashing a file or a stream (constant memory).
CHUNK = 1 << 20

ProgressCallback = Callable[[int], None]
#: timestamper(digest, hash_name) -> RFC 3161 TimeStampToken DER (a ContentInfo), or an object with .der
Timestamper = Callable[[bytes, str], object]


class ContentMismatch(SigningError):
    """Two signatures, or a signature and a document, are not over the same content."""


@functools.lru_cache(maxsize=256)
def _oid(dotted: str) -> bytes:
    encoded: bytes = a_core.ObjectIdentifier(dotted).dump()
    return encoded


_DIGEST_OIDS = {name: oids.DIGESTS[name] for name in oids.SIGNING_DIGESTS}
_ATTR_CONTENT_TYPE = _oid(oids.ATTR_CONTENT_TYPE)
_ATTR_MESSAGE_DIGEST = _oid(oids.ATTR_MESSAGE_DIGEST)
_ATTR_SIGNING_TIME = _oid(oids.ATTR_SIGNING_TIME)
_SIGNED_DATA_OID = _oid(SIGNED_DATA)


def digest_algorithm_der(digest_name: str) -> bytes:
    """AlgorithmIdentifier for a SHA-2 digest, parameters absent (RFC 5754)."""
    try:
        return der.tlv(0x30, _oid(_DIGEST_OIDS[digest_name]))
    except KeyError:
        raise SigningError(f"unsupported digest {digest_name!r}; use one of {', '.join(_DIGEST_OIDS)}") from None


def _utc_time(when: datetime) -> bytes:
    when = when.astimezone(timezone.utc)
    if 1950 <= when.year < 2050:
        return der.tlv(0x17, when.strftime("%y%m%d%H%M%SZ").encode())
    return der.tlv(0x18, when.strftime("%Y%m%d%H%M%SZ").encode())


def _attribute(type_oid_der: bytes, value_der: bytes) -> bytes:
    return der.tlv(0x30, type_oid_der + der.tlv(0x31, value_der))


@dataclass(init=False)
class Signer:
    """A private key with its certificate (and chain), plus the DER that never changes between signatures."""

    key: PrivateKeyTypes
    certificate: x509.Certificate
    chain: list[x509.Certificate]
    algorithm: Algorithm  #: the key's (`algorithms.for_key`) unless given

    def __init__(
        self,
        key: PrivateKeyTypes,
        certificate: x509.Certificate,
        chain: list[x509.Certificate] | None = None,
        algorithm: Algorithm | None = None,
    ) -> None:
        # written out rather than generated so that `algorithm` is optional here yet always set after
        self.key = key
        self.certificate = certificate
        self.chain = [] if chain is None else chain
        self.algorithm = algorithms.for_key(key) if algorithm is None else algorithm
        pub = self.certificate.public_key()
        raw = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        if self.key.public_key().public_bytes(*raw) != pub.public_bytes(*raw):
            raise SigningError("the private key does not belong to the certificate; pick the matching key file")
        alg = self.algorithm
        cert_der = self.certificate.public_bytes(serialization.Encoding.DER)
        a_cert = a_x509.Certificate.load(cert_der)
        self.certificates_der: list[bytes] = [cert_der] + [
            c.public_bytes(serialization.Encoding.DER) for c in self.chain if c != self.certificate
        ]
        self.sid_der: bytes = a_cms.IssuerAndSerialNumber(
            {"issuer": a_cert.issuer, "serial_number": a_cert.serial_number}
        ).dump()
        self.digest_algorithm_der: bytes = digest_algorithm_der(alg.digest_name)
        self.signature_algorithm_der: bytes = der.tlv(
            0x30, _oid(alg.signature_oid) + (alg.signature_parameters or b"")
        )
        ess = a_tsp.SigningCertificateV2(
            {
                "certs": [
                    {
                        "cert_hash": hashlib.sha256(cert_der).digest(),
                        "issuer_serial": {
                            "issuer": [a_x509.GeneralName(name="directory_name", value=a_cert.issuer)],
                            "serial_number": a_cert.serial_number,
                        },
                    }
                ]
            }
        )
        # ESSCertIDv2 with the default hash algorithm (SHA-256) omitted, as DER requires
        self.signing_certificate_attr_der: bytes = a_cms.CMSAttribute(
            {"type": "signing_certificate_v2", "values": [ess]}
        ).dump()
        self._content_type_attrs: dict[str, bytes] = {}
        # constant pieces of every signature this signer makes
        self._si_prefix = b"\x02\x01\x01" + self.sid_der + self.digest_algorithm_der
        self._time_attr: tuple[int, bytes] = (-1, b"")
        self._order: dict[tuple[str, int, int], tuple[int, ...]] = {}
        self.digest_algorithms_set_der: bytes = der.tlv(0x31, self.digest_algorithm_der)
        self.certificates_block_der: bytes = der.tlv(0xA0, b"".join(self.certificates_der))

    @classmethod
    def from_pfx(cls, blob: bytes, password: bytes) -> "Signer":
        """A signer from a PKCS#12 key file (keystore/pfx); the file must hold the certificate too."""
        from keystore.pfx import decrypt_key

        key, cert, extra = decrypt_key(blob, password)
        if cert is None:
            raise SigningError("the key file holds no certificate; import the certificate your CA issued first")
        return cls(key, cert, extra)

    def new_digest(self) -> "hashlib._Hash":
        """A fresh hash object for this signer's CMS message digest."""
        return hashlib.new(self.algorithm.digest_name)

    def _content_type_attr(self, content_type: str) -> bytes:
        attr = self._content_type_attrs.get(content_type)
        if attr is None:
            attr = self._content_type_attrs[content_type] = _attribute(_ATTR_CONTENT_TYPE, _oid(content_type))
        return attr

    def signer_info(self, digest: bytes, *, content_type: str = DATA, signing_time: datetime | None = None) -> bytes:
        """One SignerInfo (DER) over a content whose message digest is *digest*."""
        when = signing_time or datetime.now(timezone.utc)
        if when.tzinfo is None:  # a naive time is taken as UTC, never as the machine's local time
            when = when.replace(tzinfo=timezone.utc)
        second = int(when.timestamp())
        cached = self._time_attr
        if cached[0] != second:
            cached = self._time_attr = (second, _attribute(_ATTR_SIGNING_TIME, _utc_time(when)))
        time_attr = cached[1]
        attrs = (
            self._content_type_attr(content_type),
            time_attr,
            _attribute(_ATTR_MESSAGE_DIGEST, der.tlv(0x04, digest)),
            self.signing_certificate_attr_der,
        )
        # DER sorts SET OF by encoding; with fixed lengths and distinct OIDs the order never changes
        key = (content_type, len(time_attr), len(digest))
        order = self._order.get(key)
        if order is None:
            order = self._order[key] = tuple(sorted(range(4), key=attrs.__getitem__))
        body = b"".join([attrs[i] for i in order])
        hdr = der.length(len(body))
        signature = self.algorithm.sign(self.key, b"\x31" + hdr + body)
        return der.tlv(
            0x30,
            self._si_prefix + b"\xa0" + hdr + body + self.signature_algorithm_der + der.tlv(0x04, signature),
        )


def _signed_data_parts(
    *,
    content_type_der: bytes,
    content_length: int | None,
    digest_algorithms_der: Iterable[bytes],
    certificates_der: Iterable[bytes],
    signer_infos_der: Iterable[bytes],
    version: int = 1,
    crls_der: bytes = b"",
) -> tuple[bytes, bytes]:
    """(head, tail) of a ContentInfo such that head + content + tail is the whole signature.

    With content_length None the signature is detached and head + tail is all of it. Splitting lets a
    large attached signature stream its content between the two pieces.
    """
    dig = der.tlv(0x31, b"".join(sorted(set(digest_algorithms_der))))
    certs_list = list(dict.fromkeys(certificates_der))  # drop duplicates, keep order
    certs = der.tlv(0xA0, b"".join(certs_list)) if certs_list else b""
    tail = certs + crls_der + der.tlv(0x31, b"".join(signer_infos_der))
    return _assemble(version, dig, content_type_der, content_length, tail), tail


def _assemble(version: int, digest_set: bytes, content_type_der: bytes, content_length: int | None,
              tail: bytes) -> bytes:
    """The head of a ContentInfo/SignedData whose eContent (if any) and *tail* follow it."""
    if content_length is None:
        eci_head = der.tlv(0x30, content_type_der)
        eci_len = len(eci_head)
    else:
        octet_hdr = b"\x04" + der.length(content_length)
        explicit_len = len(octet_hdr) + content_length
        explicit_hdr = b"\xa0" + der.length(explicit_len)
        inner_len = len(content_type_der) + len(explicit_hdr) + explicit_len
        eci_head = b"\x30" + der.length(inner_len) + content_type_der + explicit_hdr + octet_hdr
        eci_len = len(eci_head) + content_length
    sd_len = 3 + len(digest_set) + eci_len + len(tail)
    sd_hdr = b"\x30" + der.length(sd_len)
    wrap_len = len(sd_hdr) + sd_len
    wrap_hdr = b"\xa0" + der.length(wrap_len)
    outer_len = len(_SIGNED_DATA_OID) + len(wrap_hdr) + wrap_len
    return (b"\x30" + der.length(outer_len) + _SIGNED_DATA_OID + wrap_hdr + sd_hdr + bytes((2, 1, version))
            + digest_set + eci_head)


def sign_digest(
    digest: bytes,
    signer: Signer,
    *,
    content: bytes | None = None,
    content_type: str = DATA,
    signing_time: datetime | None = None,
) -> bytes:
    """A one-signer CMS over a content whose digest the caller computed; *content* makes it attached."""
    info = signer.signer_info(digest, content_type=content_type, signing_time=signing_time)
    tail = signer.certificates_block_der + der.tlv(0x31, info)
    head = _assemble(1 if content_type == DATA else 3, signer.digest_algorithms_set_der, _oid(content_type),
                     None if content is None else len(content), tail)
    return head + content + tail if content is not None else head + tail


def sign(
    content: bytes,
    signer: Signer,
    *,
    detached: bool = False,
    content_type: str = DATA,
    signing_time: datetime | None = None,
) -> bytes:
    """Sign *content*: a CAdES-BES CMS, attached by default, detached on request."""
    digest = hashlib.new(signer.algorithm.digest_name, content).digest()
    return sign_digest(
        digest,
        signer,
        content=None if detached else content,
        content_type=content_type,
        signing_time=signing_time,
    )


def sign_stream(
    chunks: Iterable[bytes], signer: Signer, *, signing_time: datetime | None = None
) -> bytes:
    """A detached signature over content that arrives in pieces (never held whole in memory)."""
    h = signer.new_digest()
    for chunk in chunks:
        h.update(chunk)
    return sign_digest(h.digest(), signer, signing_time=signing_time)


def sign_file(
    path: str | os.PathLike[str],
    signer: Signer,
    out: str | os.PathLike[str],
    *,
    detached: bool = False,
    signing_time: datetime | None = None,
    progress: ProgressCallback | None = None,
    timestamper: Timestamper | None = None,
    digest: bytes | None = None,
) -> int:
    """Sign a file of any size into *out* in constant memory; return the signature's size in bytes.

    An attached signature reads the file twice (hash, then copy; the copy is hashed again and must
    match). *digest*, when the caller hashed the file already (`signing.prehash`), skips the first
    pass. With *timestamper* the signer gets a signature timestamp (CAdES-T) before anything is
    written, so a TSA that fails leaves no file. *out* appears only when complete.
    """
    src = Path(path)
    size = src.stat().st_size
    if digest is None:
        digest = file_digest(src, signer.algorithm.digest_name, progress)
    info = signer.signer_info(digest, signing_time=signing_time)
    if timestamper is not None:
        info = _stamped(der.read_signer_info(info), timestamper, "sha256")
    head, tail = _signed_data_parts(
        content_type_der=_oid(DATA),
        content_length=None if detached else size,
        digest_algorithms_der=(signer.digest_algorithm_der,),
        certificates_der=signer.certificates_der,
        signer_infos_der=(info,),
    )

    def body(f: BinaryIO) -> None:
        f.write(head)
        if not detached:
            copied = 0
            again = signer.new_digest()  # the copy must be the bytes that were signed
            buf = bytearray(CHUNK)
            view = memoryview(buf)
            with open(src, "rb") as g:
                while n := g.readinto(buf):
                    f.write(view[:n])
                    again.update(view[:n])
                    copied += n
                    if progress:
                        progress(n)
            if copied != size or again.digest() != digest:
                raise SigningError(f"{src} changed while it was being signed; sign it again")
        f.write(tail)

    return write_atomically(out, body)


def write_atomically(out: str | os.PathLike[str], writer: Callable[[BinaryIO], None], mode: int = 0o644) -> int:
    """Write through *writer* to a temporary file beside *out*, then rename; nothing is left on failure.

    Signatures are public, so the file gets *mode* (0644) rather than mkstemp's private 0600.
    """
    target = Path(out)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            writer(f)
            size = f.tell()
            os.fchmod(f.fileno(), mode)
        os.replace(tmp, target)
        return size
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


# --- working on existing signatures -------------------------------------------------------------


def _parse(blob: bytes, *, max_bytes: int = der.MAX_BYTES) -> der.SignedDataView:
    """A signature given as DER, PEM or base64, read strictly."""
    return der.read_signed_data(encoding.signature_der(blob, max_bytes=max_bytes), max_bytes=max_bytes)


def content_of(blob: bytes) -> bytes | None:
    """The document inside an attached signature, or None for a detached one."""
    return _parse(blob).content


def signed_digest(info: der.SignerInfoView) -> tuple[str, bytes | None]:
    """(digest name, message-digest attribute value or None) of one signer."""
    attr = info.signed_attribute(MESSAGE_DIGEST)
    return info.digest_name, None if attr is None else der.read_octets(attr.values[0])


def _check_content(parsed: der.SignedDataView, content: bytes, who: str = "signer") -> None:
    for i, info in enumerate(parsed.signer_infos, 1):
        name, md = signed_digest(info)
        if md is None:
            continue
        try:
            actual = hashlib.new(name, content).digest()
        except ValueError:
            raise SigningError(f"{who} {i} uses an unknown digest algorithm {name!r}") from None
        if actual != md:
            raise ContentMismatch(
                f"the document is not the one {who} {i} signed (message digest differs); "
                "co-sign or join signatures over the same document only"
            )


def _rebuild(
    parsed: der.SignedDataView,
    *,
    signer_infos_der: list[bytes],
    certificates_der: list[bytes],
    digest_algorithms_der: list[bytes],
    content: bytes | None,
) -> bytes:
    version = max(parsed.version, 1 if parsed.content_type == DATA else 3)
    head, tail = _signed_data_parts(
        content_type_der=_oid(parsed.content_type),
        content_length=None if content is None else len(content),
        digest_algorithms_der=digest_algorithms_der,
        certificates_der=certificates_der,
        signer_infos_der=signer_infos_der,
        version=version,
        crls_der=der.tlv(0xA1, b"".join(parsed.crls)) if parsed.crls else b"",
    )
    return head + content + tail if content is not None else head + tail


def _digest_algorithms(parsed: der.SignedDataView) -> list[bytes]:
    out = []
    for d in parsed.digest_algorithms:
        name = der.digest_name(der.read_oid(der.children(d)[0]))
        out.append(digest_algorithm_der(name) if name in _DIGEST_OIDS else d)
    return out


def cosign(
    blob: bytes,
    signer: Signer,
    *,
    content: bytes | None = None,
    signing_time: datetime | None = None,
) -> bytes:
    """Add *signer* as one more signer over the same content (an officer's answer, a second citizen).

    For a detached signature pass the document as *content*; it must match what the others signed.
    """
    parsed = _parse(blob)
    if parsed.content_type != DATA:
        raise SigningError("only signatures over plain data (id-data) can be co-signed")
    if parsed.content is not None:
        if content is not None and content != parsed.content:
            raise ContentMismatch("the document passed differs from the one inside the attached signature")
        content = parsed.content
        keep_attached = True
    else:
        if content is None:
            raise SigningError("this signature is detached; pass the signed document to co-sign it")
        keep_attached = False
    _check_content(parsed, content)
    digest = hashlib.new(signer.algorithm.digest_name, content).digest()
    new_info = signer.signer_info(digest, signing_time=signing_time)
    return _rebuild(
        parsed,
        signer_infos_der=[si.der for si in parsed.signer_infos] + [new_info],
        certificates_der=parsed.certificates + signer.certificates_der,
        digest_algorithms_der=_digest_algorithms(parsed) + [signer.digest_algorithm_der],
        content=content if keep_attached else None,
    )


def join(first: bytes, second: bytes, *, content: bytes | None = None) -> bytes:
    """Merge two signatures over the same content into one with every signer of both.

    The result is attached if either input is. Detached inputs are compared by their message digests,
    or checked against *content* when given. Different contents are refused.
    """
    a, b = _parse(first), _parse(second)
    if a.content_type != b.content_type:
        raise ContentMismatch(f"content types differ ({a.content_type} vs {b.content_type}); cannot join")
    if a.content is not None and b.content is not None and a.content != b.content:
        raise ContentMismatch("the two signatures carry different documents; cannot join")
    inside = a.content if a.content is not None else b.content
    if inside is not None and content is not None and content != inside:
        raise ContentMismatch("the document passed differs from the one inside the attached signature")
    known = inside if inside is not None else content
    if known is not None:
        _check_content(a, known, "first signature's signer")
        _check_content(b, known, "second signature's signer")
    else:
        digests: dict[str, bytes] = {}
        for parsed in (a, b):
            for info in parsed.signer_infos:
                name, md = signed_digest(info)
                if md is None:
                    raise SigningError("a signer without signed attributes can only be joined with the document")
                if digests.setdefault(name, md) != md:
                    raise ContentMismatch("the two signatures are over different documents (message digests differ)")
        if len(digests) > 1:
            raise SigningError("the signers use different digest algorithms; pass the document so both can be checked")
    infos: list[bytes] = []
    for parsed in (a, b):
        for si in parsed.signer_infos:
            if si.der not in infos:
                infos.append(si.der)
    return _rebuild(
        a,
        signer_infos_der=infos,
        certificates_der=a.certificates + b.certificates,
        digest_algorithms_der=_digest_algorithms(a) + _digest_algorithms(b),
        content=inside,
    )


def make_attached(blob: bytes, content: bytes) -> bytes:
    """Put *content* into a detached signature (E-IMZO's make-attached), after checking it matches."""
    parsed = _parse(blob)
    if parsed.content is not None:
        raise SigningError("the signature is already attached")
    _check_content(parsed, content)
    return _rebuild(
        parsed,
        signer_infos_der=[si.der for si in parsed.signer_infos],
        certificates_der=parsed.certificates,
        digest_algorithms_der=_digest_algorithms(parsed),
        content=content,
    )


def has_signature_timestamp(info: der.SignerInfoView) -> bool:
    """Does this signer already carry a signature timestamp (CAdES-T)?"""
    return any(a.oid == SIGNATURE_TIMESTAMP for a in info.unsigned_attrs)


def add_timestamp(
    blob: bytes,
    timestamper: Timestamper,
    *,
    hash_name: str = "sha256",
    signers: Iterable[int] | None = None,
) -> tuple[bytes, list[int]]:
    """CAdES-T: add an RFC 3161 signature timestamp to each signer (or to the 0-based *signers*).

    *timestamper(digest, hash_name)* returns a TimeStampToken over the digest of the signature value,
    e.g. `lambda d, h: tsa.request_timestamp(d, hash_name=h, url=...)`. Signers that already have one are
    left alone. Returns (new signature, indexes of the signers stamped now).
    """
    parsed = _parse(blob)
    infos = parsed.signer_infos
    wanted = set(range(len(infos))) if signers is None else set(signers)
    bad = sorted(i for i in wanted if not 0 <= i < len(infos))
    if bad:
        raise SigningError(f"no signer number {bad[0] + 1}; the signature has {len(infos)} signer(s)")
    out: list[bytes] = []
    stamped: list[int] = []
    for i, info in enumerate(infos):
        if i not in wanted or has_signature_timestamp(info):
            out.append(info.der)
            continue
        out.append(_stamped(info, timestamper, hash_name))
        stamped.append(i)
    if not stamped:
        return blob, []
    return (
        _rebuild(
            parsed,
            signer_infos_der=out,
            certificates_der=parsed.certificates,
            digest_algorithms_der=_digest_algorithms(parsed),
            content=parsed.content,
        ),
        stamped,
    )


def _stamped(info: der.SignerInfoView, timestamper: Timestamper, hash_name: str) -> bytes:
    """*info* (DER) with a signature timestamp over its signature value added to its unsigned attributes."""
    digest = hashlib.new(hash_name, info.signature).digest()
    token = timestamper(digest, hash_name)
    token_der = getattr(token, "der", token)
    if not isinstance(token_der, (bytes, bytearray)):
        raise SigningError("the timestamper returned no token bytes")
    token_der = bytes(token_der)
    _check_token_imprint(token_der, digest)
    attr = der.tlv(0x30, _oid(SIGNATURE_TIMESTAMP) + der.tlv(0x31, token_der))
    existing = b"".join(a.der for a in info.unsigned_attrs)
    return der.tlv(0x30, info.der_without_unsigned + der.tlv(0xA1, existing + attr))


def _check_token_imprint(token_der: bytes, digest: bytes) -> None:
    try:
        sd = der.read_signed_data(token_der, max_bytes=1 << 20)
        _, imprint, _ = tst_info(sd)
    except der.MalformedSignature as exc:
        raise SigningError(f"the timestamp authority returned an unreadable token: {exc}") from None
    if imprint != digest:
        raise SigningError("the timestamp authority stamped a different digest; refusing its token")


def tst_info(sd: der.SignedDataView) -> tuple[str, bytes, datetime]:
    """(hash name, hashed message, genTime) of a timestamp token; MalformedSignature if it is not one."""
    if sd.content_type != TST_INFO or sd.content is None:
        raise der.MalformedSignature("the timestamp token does not carry TSTInfo")
    return der.read_tst_info(sd.content)
