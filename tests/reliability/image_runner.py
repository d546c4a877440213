"""Child process for hostile_images.run: `python image_runner.py FOLDER NAME...`.

One JSON line per file. A memory cap makes a bomb that slips through fail here (as a crash in
the figures) instead of taking the machine down.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from mmchat.images import ImageRejected, open_image_bytes, read_image_file

resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, resource.RLIM_INFINITY))


def check(path: Path) -> dict[str, object]:
    started = time.perf_counter()
    record: dict[str, object] = {"name": path.name}
    try:
        checked = read_image_file(path)
        image = open_image_bytes(checked.data, checked.name)
        ok = image.mode == "RGB" and image.size[0] > 0
        record["outcome"] = "accept" if ok else "crash"
        record["detail"] = f"{checked.mime} {image.size} {image.mode}"
    except ImageRejected as exc:
        message = str(exc)
        record["outcome"] = "reject"
        record["detail"] = message
        # One line, naming the file, with no control characters from the name or the library.
        record["bad_message"] = "\n" in message or not message.startswith(path.name)
    except BaseException as exc:  # the figure: anything but a clean rejection is a crash
        record["outcome"] = "crash"
        record["detail"] = f"{type(exc).__name__}: {exc}"[:300]
    record["seconds"] = round(time.perf_counter() - started, 3)
    return record


def main() -> None:
    folder = Path(sys.argv[1])
    for name in sys.argv[2:]:
        print(json.dumps(check(folder / name)), flush=True)


if __name__ == "__main__":
    main()
