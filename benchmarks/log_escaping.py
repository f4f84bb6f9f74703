#!/usr/bin/env python3
"""What escaping log lines (idp/logs.py) costs per record, against the plain formatter it wraps.

    python benchmarks/log_escaping.py [--records N]

Formats an access-log-like record with logging.Formatter (the baseline) and with
EscapingFormatter around it, in the same process; prints microseconds per record and the ratio.
"""
from __future__ import annotations

import argparse
import logging
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from idp.logs import FORMAT, EscapingFormatter  # noqa: E402


def per_record(formatter: logging.Formatter, record: logging.LogRecord, n: int) -> float:
    return min(timeit.repeat(lambda: formatter.format(record), number=n, repeat=5)) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    n = parser.parse_args().records
    clean = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, '%s "%s %s" %s %s %ss',
                              ("127.0.0.1", "GET", "/authorize/continue", "302", "219", "0.012345"), None)
    hostile = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, '%s "%s %s" %s %s %ss',
                                ("127.0.0.1", "GET", "/x\r\n\x1b[31m" * 20, "404", "608", "0.01"), None)
    base = per_record(logging.Formatter(FORMAT), clean, n)
    print(f"{'baseline logging.Formatter':45s} {base:6.2f} us/record")
    for name, record in (("clean line", clean), ("hostile line (60 escapes)", hostile)):
        took = per_record(EscapingFormatter(), record, n)
        print(f"{'EscapingFormatter, ' + name:45s} {took:6.2f} us/record  ({took / base:.2f}x baseline)")


if __name__ == "__main__":
    main()
