"""`imzo ca` commands."""
from __future__ import annotations
