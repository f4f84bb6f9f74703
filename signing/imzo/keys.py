"""`imzo keys` commands."""
from __future__ import annotations
