"""Hash a file in a child process while this one opens the signing key.

Opening a key file costs 600,000 PBKDF2 rounds inside `cryptography`, which holds the GIL, so a
thread hashing meanwhile would stall; a forked child hashes on another core instead, and `imzo sign`
of a big file costs about the larger of the two rather than their sum. The child only reads the file
and hashes it; it never sees a password or a key. Where there is no fork, the hash is computed when
asked for, in this process.
"""
from __future__ import annotations

import hashlib
import mmap
import os
import signal
from types import TracebackType
from typing import Callable

from .errors import SigningError

#: The digest started before the key is open: that of the default algorithm (ECDSA P-256), which
#: nearly every key uses; a key that needs another has the file hashed again.
DEFAULT_DIGEST = "sha256"
#: Bytes read per step, as signing.cms reads files.
CHUNK = 1 << 20
#: The child reports progress every this many bytes: few enough messages that the pipe never fills
#: while this process is busy with the key (a full pipe would stop the child).
PROGRESS_EVERY = 64 << 20


class PendingDigest:
    """A file's digest being computed by a child process; `result()` waits for it."""

    def __init__(self, path: str | os.PathLike[str], digest_name: str) -> None:
        self.path, self.digest_name = os.fspath(path), digest_name
        hashlib.new(digest_name)  # an unknown name fails here, not in the child
        self._pid = 0
        self._pipe = None
        if hasattr(os, "fork"):
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: hash, report, exit without running any of the parent's cleanup
                os.close(read_end)
                _child(self.path, digest_name, write_end)
            os.close(write_end)
            self._pid, self._pipe = pid, os.fdopen(read_end, "rb")

    def result(self, progress: Callable[[int], None] | None = None) -> bytes:
        """The digest (waiting for the child); progress(bytes) as it reports. SigningError if it failed."""
        if self._pipe is None:
            return file_digest(self.path, self.digest_name, progress)
        digest = None
        problem = "the hashing process ended without a result"
        for line in self._pipe:
            kind, _, value = line.rstrip(b"\n").partition(b" ")
            if kind == b"p" and progress:
                progress(int(value))
            elif kind == b"d":
                digest = bytes.fromhex(value.decode())
            elif kind == b"e":
                problem = value.decode(errors="replace")
        self._reap()
        if digest is None:
            raise SigningError(f"could not hash {self.path}: {problem}")
        return digest

    def cancel(self) -> None:
        """Stop the child if it is still running (a wrong password, a signal, another digest needed)."""
        if self._pid:
            try:
                os.kill(self._pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._reap()

    def _reap(self) -> None:
        if self._pid:
            os.waitpid(self._pid, 0)
            self._pid = 0
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None

    def __enter__(self) -> "PendingDigest":
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.cancel()


def file_digest(path: str | os.PathLike[str], digest_name: str, progress: Callable[[int], None] | None = None) -> bytes:
    """Hash a file in constant memory, reporting bytes read to *progress*."""
    h = hashlib.new(digest_name)
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    with open(path, "rb") as f:
        while n := f.readinto(buf):
            h.update(view[:n])
            if progress:
                progress(n)
    return h.digest()


def _mapped_digest(path: str, digest_name: str, progress: Callable[[int], None]) -> bytes:
    """file_digest through a memory map: no copy from the page cache, a quarter less CPU than reading.

    Only for the child: a file truncated under a map kills its reader with SIGBUS, which the parent
    survives and reports, but a library caller would not.
    """
    with open(path, "rb") as f:
        try:
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (ValueError, OSError):  # empty, or not a regular file
            return file_digest(path, digest_name, progress)
    with mapped:
        if hasattr(mapped, "madvise"):
            mapped.madvise(mmap.MADV_SEQUENTIAL)
        h = hashlib.new(digest_name)
        with memoryview(mapped) as view:
            for start in range(0, len(view), CHUNK):
                piece = view[start:start + CHUNK]
                h.update(piece)
                progress(len(piece))
                piece.release()
        return h.digest()


def _child(path: str, digest_name: str, fd: int) -> None:
    code = 1
    try:
        for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):  # die at once; the parent cleans up
            signal.signal(s, signal.SIG_DFL)
        unreported = 0

        def report(n: int) -> None:
            nonlocal unreported
            unreported += n
            if unreported >= PROGRESS_EVERY:
                os.write(fd, b"p %d\n" % unreported)
                unreported = 0

        digest = _mapped_digest(path, digest_name, report)
        os.write(fd, b"p %d\nd %s\n" % (unreported, digest.hex().encode()))
        code = 0
    except OSError as exc:
        os.write(fd, b"e " + f"{exc.strerror or exc}".encode(errors="replace")[:300] + b"\n")
    except BaseException:  # noqa: BLE001 - whatever happens, the child must not return into the parent's code
        pass
    finally:
        os._exit(code)
