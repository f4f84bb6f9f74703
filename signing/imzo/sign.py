"""`imzo sign` commands."""
from __future__ import annotations
