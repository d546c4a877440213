"""Customer-service personas for mmchat, with hand-off to a person and tickets.

It imports only mmchat's public plugin API (mmchat.hooks) from mmchat.
"""

from __future__ import annotations

__version__ = "0.1.0"
