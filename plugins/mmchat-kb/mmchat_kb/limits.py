"""Caps for reading untrusted files; each can be moved with an environment variable."""

from __future__ import annotations

import os
from dataclasses import dataclass


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int  # larger files are skipped before they are opened
    parse_seconds: float  # one file's parse is killed after this long
    parse_memory_bytes: int  # address-space cap of the parsing process
    max_text_chars: int  # text taken from one file, at most
    max_pdf_pages: int
    max_unzipped_bytes: int  # .docx: total size of the archive's members

    @classmethod
    def from_env(cls) -> Limits:
        mb = 1024 * 1024
        return cls(
            max_file_bytes=int(_env_float("MMCHAT_KB_MAX_FILE_MB", 100) * mb),
            parse_seconds=_env_float("MMCHAT_KB_PARSE_SECONDS", 60),
            parse_memory_bytes=int(_env_float("MMCHAT_KB_PARSE_MEMORY_MB", 2048) * mb),
            max_text_chars=int(_env_float("MMCHAT_KB_MAX_TEXT_CHARS", 20_000_000)),
            max_pdf_pages=int(_env_float("MMCHAT_KB_MAX_PDF_PAGES", 5000)),
            max_unzipped_bytes=int(_env_float("MMCHAT_KB_MAX_UNZIPPED_MB", 300) * mb),
        )


def human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"
