"""Customer-service personas for mmchat, with hand-off to a person."""

from __future__ import annotations

__version__ = "0.1.0"
