"""E-signature login benchmark: the server's side of one login (`idp.challenges.issue`, commit, then
`verify` of the signed answer) against one `signing.validate` call on the same signature, measured in
the same run.

    .venv/bin/python benchmarks/esign_login.py [--database-url URL] [--seconds 3] [--cpu 0]

Pinned to one core; rates are per CPU second of this process (time.process_time), best of 3 rounds.
The citizen's signing is the browser's work, so it is not counted. Baselines: a warm Validator (kept
between calls, as a portal checking many signatures keeps one), and a fresh one per call built by
`idp.ca_service.validator`, which is what `verify` does so that a revocation counts at once. Default
store: a SQLite file in a temporary folder.
"""
from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "ca"))


def rate(fn: Callable[[], float], seconds: float) -> float:
    """Calls per counted CPU second; *fn* returns the CPU seconds of its own that count."""
    for _ in range(5):
        fn()
    n, counted = 0, 0.0
    while counted < seconds:
        counted += fn()
        n += 1
    return n / counted


def timed(fn: Callable[[], object]) -> Callable[[], float]:
    def run() -> float:
        start = time.process_time()
        fn()
        return time.process_time() - start
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--cpu", type=int, default=0)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})

    from ca_helpers import FAST_KDF, make_csr
    from idp import ca_service, challenges
    from idp.config import Settings
    from idp.db import Database
    from signing import cms

    folder = Path(tempfile.mkdtemp())
    url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
    settings = Settings(instance_path=folder, database_url=url, issuer="http://127.0.0.1:9",
                        secret_key=secrets.token_hex(32).encode())
    ca_service.ensure_development_ca(settings, kdf_rounds=FAST_KDF)
    services = ca_service.load(settings)
    assert services is not None
    password = (folder / ca_service.DEV_PASSWORD_FILE).read_text().strip().encode()
    from signing.ca import CertificateAuthority

    authority = CertificateAuthority.open(ca_service.ca_folder(settings), password)
    key, csr = make_csr()
    signer = cms.Signer(key, authority.issue(csr), [authority.issuing_certificate])
    db = Database(url)
    db.upgrade()
    binding = secrets.token_urlsafe(24)

    def login() -> float:
        start = time.process_time()
        with db.session() as s:
            challenge = challenges.issue(s, binding)
        spent = time.process_time() - start
        answer = cms.sign(challenge.encode(), signer)  # the citizen's part: not counted
        start = time.process_time()
        with db.session() as s:
            challenges.verify(s, binding, answer, services)
        return spent + time.process_time() - start

    sample = cms.sign(b"x" * 44, signer)
    warm = ca_service.validator(services)
    assert warm.validate(sample).passed

    best: dict[str, float] = {}
    for _ in range(3):
        for name, fn in (("validate, warm validator", timed(lambda: warm.validate(sample))),
                         ("validate, fresh validator", timed(lambda: ca_service.validator(services).validate(sample))),
                         ("e-signature login", login)):
            best[name] = max(best.get(name, 0.0), rate(fn, args.seconds))
    store = url.split(":", 1)[0]
    base = best["validate, warm validator"]
    print(f"one core, {store}; rates per CPU second, best of 3")
    for name, value in best.items():
        print(f"  {name:28s} {value:8.0f}/s   x{value / base:.2f} of a warm validate")
    with db.session() as s:
        challenges.prune(s)


if __name__ == "__main__":
    main()
