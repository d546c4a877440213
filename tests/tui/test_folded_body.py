"""Saved messages drawn folded (one widget per body), the idle-time garbage collector, and the
code-block lexers made ready off the UI thread: the parts that keep a long chat's layouts short."""

from __future__ import annotations

import gc
import subprocess
import sys
import time

from textual.geometry import Region
from textual.widgets import Markdown
from tui_helpers import wait_for

import mmchat.tui.widgets.chat_log as chat_log
from mmchat.tui.code_lexers import languages_in
from mmchat.tui.idle_gc import IdleCollector
from mmchat.tui.widgets.chat_log import ChatLog
from mmchat.tui.widgets.folded_body import FoldedBody, drawn_lines
from mmchat.tui.widgets.message_box import MessageBox

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


async def test_a_body_drawn_ahead_is_not_drawn_again_when_its_box_is_mounted(
    make_app, session
) -> None:
    app, _ = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        box = await opened(app, pilot, session)
        width = box.query_one(FoldedBody).content_region.width
        log = app.screen.query_one(ChatLog)
        text = "A newer answer, drawn ahead:\n\n```python\nprint('ahead')\n```"
        new_box = MessageBox("assistant", text, folded=True)
        await log._draw_ahead([new_box])
        ahead = drawn_lines(app.console, text, width, app.current_theme.dark)
        await log.add(new_box)
        await pilot.pause()
        body = new_box.query_one(FoldedBody)
        assert body.content_region.width == width
        assert body.lines(width) is ahead  # the lines drawn in the thread, not drawn again
        assert "print('ahead')" in "\n".join(drawn(body))


async def test_a_long_chats_bodies_are_drawn_off_the_event_loop(
    make_app, session, monkeypatch
) -> None:
    import threading

    conv = session.store.create_conversation(title="Long", model="scripted")
    for n in range(60):
        session.store.add_message(conv.id, "user", f"question {n}")
        session.store.add_message(conv.id, "assistant", f"answer {n}\n\n- stable\n- `key=`")
    threads: list[int] = []

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        threads.append(threading.get_ident())
        return draw_ahead(*args, **kwargs)

    draw_ahead = chat_log.draw_ahead
    monkeypatch.setattr(chat_log, "draw_ahead", spy)
    app, _ = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await app.screen.open_conversation(conv.id)
        log = app.screen.query_one(ChatLog)
        await wait_for(pilot, lambda: not log.query(".loading") and len(log.boxes) > 4)
        assert threads and threading.get_ident() not in threads


async def test_a_chat_growing_past_one_screen_keeps_its_messages_width(make_app, session) -> None:
    """The scrollbar's room is kept: a scrollbar appearing would narrow every message and have
    every body drawn again in one layout."""
    app, _ = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        box = await opened(app, pilot, session)
        log = app.screen.query_one(ChatLog)
        width = box.query_one(FoldedBody).content_region.width
        assert log.max_scroll_y == 0
        for n in range(8):
            await log.add(MessageBox("assistant", f"more {n}\n\n" + ANSWER, folded=True))
        await pilot.pause()
        assert log.max_scroll_y > 0  # the log scrolls now
        assert box.query_one(FoldedBody).content_region.width == width


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
