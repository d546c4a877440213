"""Saved messages drawn folded (one widget per body), the idle-time garbage collector, and the
code-block lexers made ready off the UI thread: the parts that keep a long chat's layouts short."""

from __future__ import annotations

import gc
import subprocess
import sys
import time

from textual.geometry import Region
from textual.widgets import Markdown

from mmchat.tui.code_lexers import languages_in
from mmchat.tui.idle_gc import IdleCollector
from mmchat.tui.widgets.chat_log import ChatLog
from mmchat.tui.widgets.folded_body import FoldedBody

ANSWER = """Use **sorted** and see [the docs](https://docs.python.org/3/howto/sorting.html).

```python
rows = sorted(rows, key=lambda r: r["name"])
```

- it is stable
- `reverse=True` for descending"""


def drawn(body: FoldedBody) -> list[str]:
    return [body.render_line(y).text for y in range(body.size.height)]


def first_background(body: FoldedBody):  # type: ignore[no-untyped-def]
    """The background of the body's first cell, as the screen draws it."""
    [line] = body.render_lines(Region(0, 0, body.size.width, 1))
    return next(iter(line)).style.bgcolor


async def opened(app, pilot, session):  # type: ignore[no-untyped-def]
    conv = session.store.create_conversation(title="Sorting", model="scripted")
    session.store.add_message(conv.id, "user", "how do I sort?")
    session.store.add_message(conv.id, "assistant", ANSWER)
    await app.screen.open_conversation(conv.id)
    await pilot.pause()
    return app.screen.query_one(ChatLog).last("assistant")


async def test_a_saved_answer_is_one_widget_that_draws_its_markdown(make_app, session) -> None:
    app, _ = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        box = await opened(app, pilot, session)
        body = box.query_one(".message-body")
        assert isinstance(body, FoldedBody) and not box.query(Markdown)
        # A header and the body: the dim lines (tools, sources, figures) are not built empty.
        assert len(box.children) == 2
        lines = drawn(body)
        text = "\n".join(lines)
        assert 'rows = sorted(rows, key=lambda r: r["name"])' in text
        assert "• it is stable" in text and "**" not in text
        # A link shows its address and is no terminal hyperlink (model output is untrusted).
        assert "(https://docs.python.org/3/howto/sorting.html)" in text
        segments = [s for y in range(len(lines)) for s in body.render_line(y)]
        assert not any(s.style and s.style.link for s in segments)


async def test_focusing_a_folded_box_redraws_it_in_the_focused_style(make_app, session) -> None:
    app, _ = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        box = await opened(app, pilot, session)
        body = box.query_one(FoldedBody)
        before = first_background(body)
        box.focus()
        await pilot.pause()
        after = first_background(body)
        assert before != after  # the kept lines were dropped with the style they were drawn in


async def test_copying_a_code_block_unfolds_the_box_into_markdown(make_app, session) -> None:
    app, _ = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        box = await opened(app, pilot, session)
        box.focus()
        await pilot.press("b")
        await pilot.pause()
        assert not box.folded and not box.query(FoldedBody)
        assert box.body.query(".copied")
        assert app.clipboard.strip() == 'rows = sorted(rows, key=lambda r: r["name"])'


async def test_keys_hold_off_the_idle_collection(make_app) -> None:
    app, _ = make_app()
    async with app.run_test() as pilot:
        assert gc.get_threshold()[2] >= 1_000_000  # no automatic full collection while it runs
        collector = app.collector
        collector.quiet = 1.0  # a press takes ~0.25 s here (Pilot waits for the app to idle)
        await pilot.press("x")
        assert not collector.tick()  # a key just now
        time.sleep(1.05)
        assert collector.tick()
    assert gc.get_threshold()[2] < 1_000_000  # Python's own again once the app ends


def test_idle_collector_restores_pythons_thresholds() -> None:
    before = gc.get_threshold()
    collector = IdleCollector(quiet=0.0)
    collector.start()
    try:
        assert gc.get_threshold()[:2] == before[:2] and gc.get_threshold()[2] > before[2]
        assert collector.tick()
    finally:
        collector.stop()
    assert gc.get_threshold() == before


def test_the_languages_of_fenced_blocks_are_found() -> None:
    text = "x\n```python\nprint(1)\n```\n~~~ Bash\nls\n~~~\n    ```not-a-fence\n```\nplain\n```"
    assert languages_in([text, "```c++\nint x;\n```"]) == {"python", "bash", "c++"}


def test_warming_compiles_a_lexers_rules_before_the_view_draws() -> None:
    """In a fresh interpreter: Pygments compiles a lexer's rules the first time it is made."""
    script = (
        "from pygments.lexers.nimrod import NimrodLexer as L\n"
        "assert '_tokens' not in vars(L)\n"
        "from mmchat.tui.code_lexers import warm\n"
        "warm(['nim', 'no-such-language'])\n"
        "assert '_tokens' in vars(L)\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
