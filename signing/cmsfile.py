"""A CMS signature in a file, read in constant memory however big the document inside it is.

`imzo sign` streams an attached signature of any size; this reads one back the same way. The file's
ContentInfo/SignedData/encapContentInfo headers are walked in place, the eContent OCTET STRING is
left in the file (one DER string as `imzo sign` writes it, or BER chunks as `openssl cms -stream`
writes them: a constructed OCTET STRING of definite or indefinite length, RFC 5652 section 5.2), and
the rest (version, digest algorithms, certificates, CRLs, signerInfos) is read into memory under the
usual DER limits. The signature is then the same SignedData without its content (what
`der.read_signed_data` reads) plus an `EmbeddedContent` stream over the document's bytes in the file.

Text forms (PEM, base64) cannot be read in place; they are decoded whole under `encoding`'s limit.
"""
from __future__ import annotations

import io
from typing import Protocol

from . import der, encoding
from .der import MalformedSignature

#: Most pieces a constructed (BER) eContent may come in. Each costs a header read; a document cut
#: into millions of two-byte pieces would make every pass over it crawl. openssl writes 4 KiB pieces,
#: so this allows 16 GiB of its output.
MAX_CONTENT_CHUNKS = 1 << 22
#: Largest single value read whole from the file (an OID, a version); the parts that may be large
#: (certificates, signerInfos) share the `max_bytes` budget instead.
_SMALL = 1024
_SIGNED_DATA_OID = der.tlv(0x06, bytes.fromhex("2a864886f70d010702"))
_EOC = b"\x00\x00"


class BinaryFile(Protocol):
    """An open, seekable binary file: what `open(path, "rb")` and `io.BytesIO` return.

    (`typing.BinaryIO` would do but for `readinto`, which files have and it does not declare.)
    """

    def read(self, size: int = -1, /) -> bytes: ...

    def readinto(self, buffer: bytearray | memoryview, /) -> int | None: ...

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int: ...

    def tell(self) -> int: ...


class EmbeddedContent(io.RawIOBase):
    """The document inside an attached signature file, read from the file piece by piece.

    Supports what hashing and copying need: read/readinto, seek(0) to start again, seek(0, 2) for the
    size. The file must stay open (and unchanged) while this is used.
    """

    def __init__(self, f: BinaryFile, start: int, size: int, chunked_end: int | None) -> None:
        """*start*: the first content byte (primitive) or the first piece's header (chunked).

        *chunked_end* is None for one primitive string, else the offset where the pieces end (-1 when
        they end with an end-of-contents marker).
        """
        super().__init__()
        self._f, self._start, self._size, self._chunked_end = f, start, size, chunked_end
        self.seek(0)

    @property
    def size(self) -> int:
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if offset != 0 or whence not in (io.SEEK_SET, io.SEEK_END):
            raise io.UnsupportedOperation("embedded content can only be rewound or sought to its end")
        if whence == io.SEEK_END:
            self._pos, self._piece_left = self._size, 0
            self._next = None
        else:
            self._pos, self._piece_left = 0, 0
            self._next = self._start  # file offset of the next piece header (chunked) or byte (primitive)
        return self._pos

    def read(self, size: int = -1, /) -> bytes:
        """RawIOBase's read, which says `bytes | None`: None only comes from a non-blocking readinto."""
        return super().read(size) or b""

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self._pos < self._size:
            if self._chunked_end is None:
                want = min(len(view) - done, self._size - self._pos)
                offset = self._start + self._pos
            else:
                while self._piece_left == 0:  # BER allows empty pieces
                    self._open_piece()
                want = min(len(view) - done, self._piece_left)
                offset = self._piece_at
            self._f.seek(offset)
            got = self._f.readinto(view[done:done + want])
            if not got:
                raise MalformedSignature("the signature file got shorter while it was being read")
            done += got
            self._pos += got
            if self._chunked_end is not None:
                self._piece_left -= got
                self._piece_at += got
        return done

    def _open_piece(self) -> None:
        if self._next is None:  # only after seek(0, SEEK_END), when nothing is left to read
            raise MalformedSignature("the signature file changed while it was being read")
        tag, body, length = _header(self._f, self._next, None)
        if tag != 0x04 or length is None:
            raise MalformedSignature("the signature file changed while it was being read")
        self._piece_at, self._piece_left, self._next = body, length, body + length


def read(f: BinaryFile, *, max_bytes: int = der.MAX_BYTES, max_depth: int = der.MAX_DEPTH
         ) -> tuple[der.SignedDataView, bytes | EmbeddedContent | None]:
    """(the SignedData, its content) of the signature in the seekable binary file *f*.

    The content is None for a detached signature, bytes for a PEM or base64 one, else an
    EmbeddedContent over the file. Raises MalformedSignature for anything that is not sound CMS.
    """
    f.seek(0, io.SEEK_END)
    size = f.tell()
    f.seek(0)
    first = f.read(1)
    if first != b"\x30":  # PEM or base64: decoded whole, under the text limit
        limit = encoding.max_text_bytes(max_bytes)
        if size > limit:
            raise MalformedSignature(f"signature text is {size} bytes; the limit is {limit} bytes")
        f.seek(0)
        sd = der.read_signed_data(encoding.signature_der(f.read(), max_bytes=max_bytes), max_bytes=max_bytes,
                                  max_depth=max_depth)
        return sd, sd.content
    return _Walk(f, size, max_bytes).run(max_depth)


def _header(f: BinaryFile, pos: int, end: int | None) -> tuple[int, int, int | None]:
    """(tag, offset of the body, body length or None when indefinite) of the value at *pos*."""
    f.seek(pos)
    head = f.read(10)
    if len(head) < 2:
        raise MalformedSignature(f"signature is truncated at byte {pos}")
    tag, first = head[0], head[1]
    if tag & 0x1F == 0x1F:
        raise MalformedSignature(f"unexpected high-number tag at byte {pos}")
    if first == 0x80:
        if not tag & 0x20:
            raise MalformedSignature(f"signature uses an indefinite length on a primitive value at byte {pos}")
        return tag, pos + 2, None
    if first & 0x80:
        count = first & 0x7F
        if count > 8 or len(head) < 2 + count:
            raise MalformedSignature(f"signature has an impossible length at byte {pos + 1}")
        length = int.from_bytes(head[2:2 + count], "big")
        body = pos + 2 + count
    else:
        length, body = first, pos + 2
    if end is not None and body + length > end:
        raise MalformedSignature(f"signature is truncated: a value at byte {pos} claims {length} bytes, "
                                 f"{end - body} remain")
    return tag, body, length


class _Walk:
    """One pass over the file's structure; keeps the small parts, finds the content."""

    def __init__(self, f: BinaryFile, size: int, max_bytes: int) -> None:
        self.f, self.size, self.budget = f, size, max_bytes

    def _at_eoc(self, pos: int) -> bool:
        self.f.seek(pos)
        return self.f.read(2) == _EOC

    def _container(self, pos: int, end: int, tag: int, what: str) -> tuple[int, int | None]:
        """(body offset, body end or None when indefinite) of the constructed value *tag* at *pos*."""
        t, body, length = _header(self.f, pos, end)
        if t != tag:
            raise MalformedSignature(f"{what}: expected tag 0x{tag:02x}, found 0x{t:02x} at byte {pos}")
        return body, None if length is None else body + length

    def _close(self, pos: int, end: int | None, what: str) -> int:
        """Position after the end of a container whose last child ended at *pos*."""
        if end is None:
            if not self._at_eoc(pos):
                raise MalformedSignature(f"{what} has unexpected values before its end at byte {pos}")
            return pos + 2
        if pos != end:
            raise MalformedSignature(f"{what} has unexpected values before its end at byte {pos}")
        return end

    def _ended(self, pos: int, end: int | None) -> bool:
        return pos == end if end is not None else self._at_eoc(pos)

    def _element(self, pos: int, end: int, limit: int) -> bytes:
        """The whole value at *pos* (BER allowed) as bytes, if it is at most *limit* bytes."""
        stop = self._skip(pos, end)
        if stop - pos > limit:
            raise MalformedSignature(f"signature has a {stop - pos}-byte value at byte {pos}; the limit is {limit}")
        self.f.seek(pos)
        return self.f.read(stop - pos)

    def _skip(self, pos: int, end: int) -> int:
        """Offset just after the value at *pos*, walking nested indefinite lengths iteratively."""
        depth = 0
        walked = 0
        while True:
            walked += 1
            if walked > der.MAX_ELEMENTS:
                raise MalformedSignature(f"signature has more than {der.MAX_ELEMENTS} values; refused")
            if depth and self._at_eoc(pos):
                depth -= 1
                pos += 2
            else:
                _, body, length = _header(self.f, pos, end)
                if length is None:
                    depth += 1
                    if depth > der.MAX_DEPTH:
                        raise MalformedSignature(f"signature nests deeper than {der.MAX_DEPTH} levels; refused")
                    pos = body
                    continue
                pos = body + length
            if depth == 0:
                return pos

    def _take(self, pos: int, end: int, what: str) -> tuple[bytes, int]:
        value = self._element(pos, end, self.budget)
        self.budget -= len(value)
        if self.budget < 0:
            raise MalformedSignature(f"signature's {what} exceed the size limit")
        return value, pos + len(value)

    def run(self, max_depth: int) -> tuple[der.SignedDataView, EmbeddedContent | None]:
        end = self.size
        body, ci_end = self._container(0, end, 0x30, "ContentInfo")
        oid, pos = self._take(body, ci_end or end, "content type")
        if oid != _SIGNED_DATA_OID:
            raise MalformedSignature("not a CMS signature: the content type is not signed data")
        pos, wrap_end = self._container(pos, ci_end or end, 0xA0, "ContentInfo content")
        pos, sd_end = self._container(pos, wrap_end or end, 0x30, "SignedData")
        limit = sd_end or end
        version, pos = self._take(pos, limit, "version")
        digests, pos = self._take(pos, limit, "digest algorithms")
        eci_body, eci_end = self._container(pos, limit, 0x30, "encapContentInfo")
        content_type, pos = self._take(eci_body, eci_end or limit, "content type")
        content = None
        if not self._ended(pos, eci_end):
            content, pos = self._content(pos, eci_end or limit)
        pos = self._close(pos, eci_end, "encapContentInfo")
        tail = []
        while not self._ended(pos, sd_end):
            value, pos = self._take(pos, limit, "certificates and signer infos")
            tail.append(value)
            if len(tail) > 3:
                raise MalformedSignature("SignedData has more fields than certificates, CRLs and signerInfos")
        pos = self._close(pos, sd_end, "SignedData")
        pos = self._close(pos, wrap_end, "ContentInfo content")
        pos = self._close(pos, ci_end, "ContentInfo")
        if pos != self.size:
            raise MalformedSignature(f"signature has {self.size - pos} trailing bytes after the DER value")
        detached = der.tlv(0x30, _SIGNED_DATA_OID + der.tlv(0xA0, der.tlv(
            0x30, version + digests + der.tlv(0x30, content_type) + b"".join(tail))))
        sd = der.read_signed_data(detached, max_depth=max_depth)
        return sd, content

    def _content(self, pos: int, limit: int) -> tuple[EmbeddedContent, int]:
        body, explicit_end = self._container(pos, limit, 0xA0, "eContent")
        tag, start, length = _header(self.f, body, explicit_end or limit)
        if tag == 0x04 and length is not None:  # one DER OCTET STRING, as `imzo sign` writes it (never indefinite)
            content = EmbeddedContent(self.f, start, length, None)
            pos = start + length
        elif tag == 0x24:  # BER pieces, as `openssl cms -stream` writes them
            pos, total, pieces = start, 0, 0
            stop = None if length is None else start + length
            while not self._ended(pos, stop):
                t, piece, n = _header(self.f, pos, stop or explicit_end or limit)
                if t != 0x04 or n is None:
                    raise MalformedSignature(f"eContent piece at byte {pos} is not a primitive OCTET STRING")
                pieces += 1
                if pieces > MAX_CONTENT_CHUNKS:
                    raise MalformedSignature(f"eContent comes in more than {MAX_CONTENT_CHUNKS} pieces; refused")
                total += n
                pos = piece + n
            if pos > self.size:
                raise MalformedSignature("signature is truncated inside its content")
            content = EmbeddedContent(self.f, start, total, -1 if stop is None else stop)
            pos = self._close(pos, stop, "eContent")
        else:
            raise MalformedSignature(f"eContent: expected an OCTET STRING, found tag 0x{tag:02x} at byte {body}")
        return content, self._close(pos, explicit_end, "eContent [0]")
