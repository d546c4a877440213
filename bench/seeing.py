"""Benchmark: what the default model sees, on material from several sources, in one run.

    .venv/bin/python bench/seeing.py [--easy-vqa 30] [--shapes 40] [--photos 80] [--prompts 40]
    .venv/bin/python bench/seeing.py --questions-only   # questions about a thing in a photo

Everything runs through the engine (HFEngine, in-process, greedy), as `mmchat ask` does:
the relevance gate, perception, and the way each question kind is routed (image_turn.py).

- easy-vqa: its test split (never trained on), first N images, all their questions.
- other renderer: mmchat/training/shapes.py's test seeds (shades, backgrounds, sizes,
  rotation, outlines, JPEG, several shapes a picture); none of it was trained on.
- the ways compared: the single-shape pictures of both sets answered by the fusion layers,
  the scene program and the decoder reading words, kind by kind,
  so the route each kind takes is a measured choice.
- real photos (bench/photos.py: Debian darknet, foolbox, tuxpaint stamps; keyword-graded, and
  written by someone who did not tune the routes) and text pictures (bench/textpics.py, and
  three held-out sets in other typefaces: bench/textpics_heldout.py's,
  bench/textpics_heldout2.py's and bench/textpics_heldout3.py's).
- questions that name or count a thing in a photo: the photos' own (the routes were tuned on
  them) and a held-out set beside them (data/photos_heldout_questions.json).
- text turns with a photo attached vs without (held-out prompts): identical answers, and the
  relevance gate's accuracy on held-out messages about a picture and not, and on messages
  about a document, screen or sign and text-only ones on the same topics.
- per picture: perception time by module; follow-ups' first-token time against text-only
  (about the picture, a text turn after one, and about it again); peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from keywords import found, passes  # noqa: E402

from mmchat.engine.base import ChatMessage, Delta, Finished, GenerationRequest  # noqa: E402
from mmchat.engine.hf import HFEngine  # noqa: E402
from mmchat.engine.registry import resolve  # noqa: E402

DOCUMENT_MESSAGES = "gate_heldout_documents.json"
# Each held-out message list, and whether its messages are about the picture.
ABOUT_PROMPTS = (("about_image", True), ("follow_ups", True), ("not_about_image", False))
ABOUT_DOCUMENTS = (("about_picture", True), ("not_about_picture", False))
NUMBERS = {"1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six"}


class Asker:
    def __init__(self, threads: int, model: str = "default") -> None:
        self.engine = HFEngine(resolve(model), threads=threads)
        started = time.perf_counter()
        self.engine.load()
        print(f"default model loaded in {time.perf_counter() - started:.1f} s", flush=True)
        # Each prompt read whole, so an answer does not depend on the question before it: a
        # prompt read on top of kept tokens differs in the last bits, which int8 decoding
        # turns into another answer now and then. timings() turns reuse on, as the app runs.
        self.reuse_prompts(False)

    def reuse_prompts(self, on: bool) -> None:
        if self.engine.fast is not None:
            self.engine.fast.reuse_prompts = on

    def ask(
        self,
        question: str,
        picture: bytes | None,
        *,
        tokens: int = 60,
        force: str | None = None,
        before: Sequence[ChatMessage] = (),
    ) -> tuple[str, float | None]:
        """(answer, first-token seconds) for one question, the picture attached to it, after
        the messages `before` it."""
        messages = [*before, ChatMessage("user", question, [picture] if picture else [])]
        self.engine.image_turns.force_way = force
        try:
            request = GenerationRequest(messages=messages, max_new_tokens=tokens)
            text, first = [], None
            for event in self.engine.stream(request):
                if isinstance(event, Delta):
                    text.append(event.text)
                elif isinstance(event, Finished):
                    first = event.first_token_seconds
            return "".join(text).strip(), first
        finally:
            self.engine.image_turns.force_way = None

    @property
    def way(self) -> str:
        plan = self.engine.last_plan
        return plan.way if plan is not None else "text"


def png(picture: object) -> bytes:
    import io

    buffer = io.BytesIO()
    picture.save(buffer, "PNG")  # type: ignore[attr-defined]
    return buffer.getvalue()


def first_word(answer: str) -> str:
    words = answer.lower().replace(",", " ").replace(".", " ").split()
    return words[0] if words else ""


def right(kind: str, answer: str, expected: str) -> bool:
    if kind == "yes/no":
        return first_word(answer) == expected
    if kind == "count":
        return bool(found(answer, [expected, NUMBERS.get(expected, expected)]))
    return bool(found(answer, [expected]))


def report(title: str, right_: Counter[str], total: Counter[str]) -> None:
    count = sum(total.values())
    share = sum(right_.values()) / count if count else 0.0
    print(f"\n{title}: {count} questions, {share:.3f} right")
    for kind in sorted(total):
        print(f"  {kind:10s} {right_[kind] / total[kind]:.3f} ({right_[kind]}/{total[kind]})")


def easy_vqa(asker: Asker, limit: int, versus: list) -> None:
    from mmchat.training.easy_vqa import image_path, read_split

    by_image: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for question, answer, image_id in read_split("test"):
        by_image[image_id].append((question, answer))
    right_, total, ways = Counter[str](), Counter[str](), Counter[str]()
    for image_id in sorted(by_image)[:limit]:
        picture = image_path("test", image_id).read_bytes()
        for question, expected in by_image[image_id]:
            kind = "yes/no" if expected in ("yes", "no") else "shape"
            kind = kind if expected not in COLOR_ANSWERS else "color"
            answer, _ = asker.ask(question, picture, tokens=12)
            total[kind] += 1
            right_[kind] += right(kind, answer, expected)
            ways[asker.way] += 1
            versus.append((picture, question, expected, kind))
    report(f"easy-vqa test split, first {limit} images", right_, total)
    print(f"  routes taken: {dict(ways)}")


COLOR_ANSWERS = {"red", "green", "blue", "yellow", "black", "gray", "teal", "brown"}


def other_renderer(asker: Asker, limit: int, versus: list) -> None:
    from mmchat.training.shapes import TEST_SEEDS, questions, render

    right_, total, ways = Counter[str](), Counter[str](), Counter[str]()
    wrong: list[str] = []
    for seed in list(TEST_SEEDS)[:limit]:
        picture, truth = render(seed)
        blob = png(picture)
        for q in questions(seed, truth):
            answer, _ = asker.ask(q.text, blob, tokens=24)
            ok = right(q.kind, answer, q.answer)
            total[q.kind] += 1
            right_[q.kind] += ok
            ways[asker.way] += 1
            if not ok and len(wrong) < 8:
                wrong.append(f"  seed {seed}: {q.text!r} -> {answer!r} (expected {q.answer})")
            if len(truth) == 1 and q.kind != "count":
                versus.append((blob, q.text, q.answer, q.kind))
    report(f"other renderer (mmchat.training.shapes test seeds), {limit} pictures", right_, total)
    print(f"  routes taken: {dict(ways)}")
    print("  first mistakes:", *wrong, sep="\n")


def ways_compared(asker: Asker, versus: list, limit: int = 150) -> None:
    right_ = {way: Counter[str]() for way in ("fusion", "scene", "words")}
    total = Counter[str]()
    for blob, question, expected, kind in versus[:limit]:
        total[kind] += 1
        for way in right_:
            answer, _ = asker.ask(question, blob, tokens=24, force=way)
            right_[way][kind] += right(kind, answer, expected)
    print(f"\nthe ways compared on single-shape pictures ({sum(total.values())} questions):")
    for kind in sorted(total):
        shares = "  ".join(f"{way} {right_[way][kind] / total[kind]:.3f}" for way in right_)
        print(f"  {kind:8s} {shares}  (n={total[kind]})")


def photos(asker: Asker, limit: int) -> list[bytes]:
    from photos import photos as fetch

    try:
        pairs = fetch()[:limit]
    except Exception as exc:  # the bench goes on without them, and says so
        print(f"\nreal photos: unavailable ({exc})")
        return []
    what = described = colour_right = colour_total = 0
    by_source: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    wrong: list[str] = []
    kept: list[bytes] = []
    for path, entry in pairs:
        blob = path.read_bytes()
        kept.append(blob)
        answer, _ = asker.ask("What is in this picture?", blob)
        ok = passes(answer, entry["keywords"])
        what += ok
        by_source[entry["source"]][0] += ok
        by_source[entry["source"]][1] += 1
        if not ok and len(wrong) < 10:
            wrong.append(f"  {entry['id']}: {answer!r} (keywords {entry['keywords'][:3]})")
        answer, _ = asker.ask("Describe this image.", blob, tokens=80)
        described += passes(answer, entry["keywords"]) and len(answer.split()) >= 6
        if entry.get("colors"):
            answer, _ = asker.ask("What colour is it?", blob)
            colour_total += 1
            colour_right += passes(answer, entry["colors"])
    n = len(pairs)
    print(f"\nreal photos: {n}")
    print(f"  'What is in this picture?' names it: {what / n:.3f} ({what}/{n})")
    for source, (ok, count) in sorted(by_source.items()):
        print(f"    {source:10s} {ok}/{count}")
    print(f"  'Describe this image.' names it in a sentence: {described / n:.3f}")
    if colour_total:
        print(f"  'What colour is it?': {colour_right / colour_total:.3f} ({colour_total})")
    print("  first misses:", *wrong, sep="\n")
    photo_questions(asker, pairs)
    return kept


def photo_questions(asker: Asker, pairs: list) -> None:
    """The photos' own questions ("What colour is the bicycle?"), the set the routes were
    tuned on, and beside them the held-out set of such questions, never tuned on."""
    own = [(path, q) for path, entry in pairs for q in entry.get("questions", [])]
    ask_and_grade(asker, "their own questions (tuned on)", own, yes_no_first=False)
    ask_and_grade(asker, "held-out questions about a thing", heldout_questions(pairs))


HELDOUT = Path(__file__).parent / "data" / "photos_heldout_questions.json"


def heldout_questions(pairs: list) -> list[tuple[Path, dict]]:
    data = json.loads(HELDOUT.read_text())
    by_id = {entry["id"]: path for path, entry in pairs}
    found_: list[tuple[Path, dict]] = []
    for q in data["questions"]:
        source, _, name = q["photo"].partition("/")
        path = skimage_data() / name if source == "skimage" else by_id.get(q["photo"])
        if path is not None and path.exists():
            found_.append((path, q))
    if len(found_) < len(data["questions"]):
        print(f"  held-out: {len(data['questions']) - len(found_)} question(s) without their photo")
    return found_


def skimage_data() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        return Path("/nonexistent")
    return Path(spec.origin).parent / "data"


def ask_and_grade(
    asker: Asker, title: str, questions: list[tuple[Path, dict]], yes_no_first: bool = True
) -> None:
    """Each question asked of its photo and graded by keywords; a yes/no question by its
    answer's first word where `yes_no_first` (the held-out set: "No, ... yes" is a no)."""
    right_ = 0
    lines: list[str] = []
    for path, q in questions:
        answer, _ = asker.ask(q["q"], path.read_bytes())
        if yes_no_first and q["keywords"] in (["yes"], ["no"]):
            ok = first_word(answer) == q["keywords"][0]
        else:
            ok = passes(answer, q["keywords"], q.get("need", 1))
        right_ += ok
        mark = "ok  " if ok else "MISS"
        said = f"{path.name}: {q['q']!r} -> {answer!r} [{asker.way}]"
        lines.append(f"    {mark} {said} ({', '.join(q['keywords'])})")
    n = len(questions)
    if n:
        print(f"  {title}: {right_ / n:.3f} ({right_}/{n})")
        print(*lines, sep="\n")


TEXT_SETS = {
    "tuned": ("text pictures", "textpics"),
    "heldout": ("held-out text pictures", "textpics_heldout"),
    "heldout2": ("second held-out text pictures", "textpics_heldout2"),
    "heldout3": ("third held-out text pictures", "textpics_heldout3"),
    "heldout4": ("fourth held-out text pictures", "textpics_heldout4"),
}


def text_pictures(asker: Asker, verbose: bool = False, names: Sequence[str] = ()) -> None:
    """bench/textpics.py's set (the reading way was built looking at it) and beside it
    bench/textpics_heldout.py's, textpics_heldout2.py's and textpics_heldout3.py's: other
    typefaces, layouts, kinds and texts, each written without seeing how mmchat answers.
    Questions the reading way answers are asked the decoder's way too (forced "words"), so the
    route is a measured choice. `names`: the sets of TEXT_SETS to run (all when empty)."""
    import importlib

    for name in names or TEXT_SETS:
        title, module = TEXT_SETS[name]
        generate = importlib.import_module(module).generate
        right_, total = Counter[str](), Counter[str]()
        read = read_right = decoder_right = 0  # the read way's questions, answered both ways
        with tempfile.TemporaryDirectory() as folder:
            for path, record in generate(Path(folder)):
                blob = path.read_bytes()
                for q in record["questions"]:
                    answer, _ = asker.ask(q["q"], blob, tokens=120)
                    way = asker.way
                    ok = passes(answer, q["keywords"], q.get("need", 1))
                    key = f"{record['kind']}: {q['q']}"
                    total[key] += 1
                    right_[key] += ok
                    if verbose:
                        print(f"    {'ok  ' if ok else 'MISS'} {key} [{way}] -> {answer[:160]!r}")
                    if way == "read":
                        said, _ = asker.ask(q["q"], blob, tokens=120, force="words")
                        read += 1
                        read_right += ok
                        decoder_right += passes(said, q["keywords"], q.get("need", 1))
        report(f"{title} (scans, screenshots, signs, documents, ...)", right_, total)
        if read:
            print(
                f"  the read way's questions: {read_right}/{read} right; "
                f"the decoder quoting instead: {decoder_right}/{read}"
            )


def text_turns(asker: Asker, pictures: list[bytes], limit: int) -> None:
    data = json.loads((Path(__file__).parent / "data" / "heldout_prompts.json").read_text())
    gate = asker.engine.fusion.relevance
    decoder, tokenizer = asker.engine.fusion.decoder, asker.engine.fusion.tokenizer
    reader = asker.engine.image_turns.reader  # the states the engine's turns read
    # The gate on the held-out prompts, and on messages sent with a picture of a document,
    # screen or sign and text-only ones on the same topics (written apart from its training)
    documents = json.loads((Path(__file__).parent / "data" / DOCUMENT_MESSAGES).read_text())
    groups = [(f"held-out {name}", data[name], wanted) for name, wanted in ABOUT_PROMPTS]
    groups += [(f"held-out documents {n}", documents[n], w) for n, w in ABOUT_DOCUMENTS]
    for label, texts, wanted in groups:
        said = [gate.about_image(decoder, tokenizer, text, reader) == wanted for text in texts]
        print(f"relevance gate, {label}: {sum(said) / len(said):.3f} ({len(said)})")
    if not pictures:
        return
    same = 0
    prompts = data["not_about_image"][:limit]
    for i, prompt in enumerate(prompts):
        plain, _ = asker.ask(prompt, None, tokens=40)
        with_picture, _ = asker.ask(prompt, pictures[i % len(pictures)], tokens=40)
        same += plain == with_picture
    print(
        f"text turns with a photo attached answered as without: {same / len(prompts):.3f} "
        f"({same}/{len(prompts)})"
    )


def timings(asker: Asker, pictures: list[bytes]) -> None:
    from mmchat.images import open_image_bytes

    perception = asker.engine.image_turns.perception  # the engine's own: one set of models

    rows: dict[str, list[float]] = defaultdict(list)
    for i, blob in enumerate(pictures[:20]):
        words = perception.words(f"timing-{i}", open_image_bytes(blob))
        for module, seconds in words.seconds.items():
            rows[module].append(seconds)
        rows["all"].append(sum(words.seconds.values()))
    print("\nperception per picture, median / max s (the first picture excluded):")
    for module, values in rows.items():
        rest = values[1:] or values
        print(f"  {module:8s} {statistics.median(rest):.3f} / {max(rest):.3f}")
    if pictures:
        follow_ups(asker, pictures[:3])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MB")


def follow_ups(asker: Asker, pictures: list[bytes]) -> None:
    """First-token time of follow-ups in a chat that began with a picture, against the same
    chat without it. Each turn is asked right after the one before, the engine's idle work
    done between them as the engine process does it while the answer is read
    (HFEngine.prepare_next; its time is reported apart), and the prompt cache on, as the app
    runs: a follow-up about the picture, the first text turn after it, and a question about
    the picture again after that text turn."""
    asker.reuse_prompts(True)
    what, colour = "What is in this picture?", "And what colour is it?"
    haiku = "Write a haiku about the sea."
    chats = (
        ("about the picture", (what, colour)),
        ("a text turn after one about it", (what, haiku)),
        ("about it again, after a text turn", (what, haiku, colour)),
    )
    for label, questions in chats:
        times: dict[bool, list[float]] = {True: [], False: []}
        idle: list[float] = []
        for picture in pictures:
            for attached in (picture, None):
                before: list[ChatMessage] = []
                for n, question in enumerate(questions):
                    sent = attached if n == 0 else None
                    said, seconds = asker.ask(question, sent, before=before)
                    before = [*before, ChatMessage("user", question, [sent] if sent else [])]
                    before.append(ChatMessage("assistant", said))
                    if n < len(questions) - 1:
                        started = time.perf_counter()
                        asker.engine.prepare_next()
                        if attached:
                            idle.append(time.perf_counter() - started)
                times[attached is not None].append(seconds or 0.0)
        image, text = statistics.median(times[True]), statistics.median(times[False])
        print(
            f"follow-up {label} ({questions[-1]!r}): first token {image:.3f} s vs text-only "
            f"{text:.3f} s ({image / text:.2f}x); idle work after each turn, median / max "
            f"{statistics.median(idle):.3f} / {max(idle):.3f} s"
        )
    asker.reuse_prompts(False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--easy-vqa", type=int, default=30, help="easy-vqa test images")
    parser.add_argument("--shapes", type=int, default=40, help="other-renderer pictures")
    parser.add_argument("--photos", type=int, default=80, help="real photos")
    parser.add_argument("--prompts", type=int, default=40, help="text turns compared")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--questions-only",
        action="store_true",
        help="only the photos' own questions and the held-out ones about a named thing",
    )
    parser.add_argument(
        "--text-only", action="store_true", help="only the text pictures, every answer printed"
    )
    parser.add_argument(
        "--text-sets",
        type=lambda text: text.split(","),
        default=[],
        help=f"comma-separated text-picture sets, of {', '.join(TEXT_SETS)} (default: all)",
    )
    args = parser.parse_args()
    asker = Asker(args.threads)
    if args.questions_only:
        from photos import photos as fetch

        print("\nreal photos, questions about a thing in them:")
        photo_questions(asker, fetch())
        return
    unknown = sorted(set(args.text_sets) - set(TEXT_SETS))
    if unknown:
        parser.error(f"unknown text set {', '.join(unknown)}: use {', '.join(TEXT_SETS)}")
    if args.text_only:
        text_pictures(asker, verbose=True, names=args.text_sets)
        return
    versus: list = []
    easy_vqa(asker, args.easy_vqa, versus)
    other_renderer(asker, args.shapes, versus)
    ways_compared(asker, versus)
    pictures = photos(asker, args.photos)
    text_pictures(asker, names=args.text_sets)
    print()
    text_turns(asker, pictures, args.prompts)
    timings(asker, pictures)


if __name__ == "__main__":
    main()
