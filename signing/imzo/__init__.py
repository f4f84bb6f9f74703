"""`imzo`: the command citizens and officers use for keys, signatures and checks.

Each sub-module adds its commands to `main`: keys (key files and CSRs), ca (the operator's
certificate authority), sign (sign, cosign, timestamp, verify).
"""
from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Keys, signatures and signature checks for Yagona (E-IMZO style)."""


from . import ca, keys, sign  # noqa: E402,F401  (each registers its commands on `main`)
