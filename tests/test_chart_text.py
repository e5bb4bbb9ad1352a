"""The chart's text: drawn only when composing, only where it changed, numbers at a limited rate.

Most checks compare a chart composed only now and then with a twin composed after every sample: both get the same
samples, so every pixel must match, however rows moved, appeared, exited or were discarded in between.
"""

from __future__ import annotations

from pathlib import Path

import cairocffi
import pytest
from chart_helpers import Feed, Png, is_cyan, is_dark, is_white, make_task

from vwm_overlay.chart import Chart, Theme
from vwm_overlay.chart.cairo_types import (
    ANTIALIAS_NONE,
    FORMAT_ARGB32,
    fallback_face,
    new_context,
    new_image,
    set_hinted_font,
)
from vwm_overlay.chart.textpass import TextLayer
from vwm_overlay.vmon.records import Task

# A wide lead keeps the newest 30-odd columns free of text, so text probes never meet a graph.
EVERY_CHANGE = Theme(text_lead_px=40, numbers_refresh_s=0.0)
LIMITED = Theme(text_lead_px=40)
ROW = LIMITED.row_px
SLOT = LIMITED.row_px  # one row per task by default


class Twins:
    """A chart composed only when asked (``lazy``) and one composed after every sample (``eager``)."""

    def __init__(self, root: Task, tmp_path: Path, *, theme: Theme = EVERY_CHANGE, hertz: float = 10.0) -> None:
        self.lazy = Chart(800, 400, name="twin", theme=theme, hertz=hertz)
        self.eager = Chart(800, 400, name="twin", theme=theme, hertz=hertz)
        self.feed = Feed(self.lazy, root, mirrors=(self.eager,))
        self._tmp = tmp_path
        self._pngs = 0

    def step(self, load: dict[Task, tuple[int, int]] | None = None, *, columns: int = 1) -> None:
        self.feed.step(load, columns=columns)
        self.eager.to_surface()

    def png(self, chart: Chart) -> Png:
        self._pngs += 1
        return Png(chart, self._tmp / f"{self._pngs}.png")

    def assert_same(self) -> None:
        """Both twins look the same, and the same as the lazy one with all its text drawn again from scratch."""
        lazy = self.png(self.lazy).pixels()
        assert lazy == self.png(self.eager).pixels()
        self.lazy.resize(self.lazy.width, self.lazy.height)  # forgets all text: drawn again whole
        assert lazy == self.png(self.lazy).pixels()


def y_of(chart: Chart, task: Task) -> int:
    y = chart.row_y(task)
    assert y is not None, f"{task} has no row"
    return y


def has_text(png: Png, x0: int, x1: int, y: int) -> bool:
    return any(is_white(p) for p in png.region(x0, y, x1, y + ROW))


def newcomer(pid: int, root: Task, feed: Feed, comm: str = "n") -> Task:
    task = make_task(pid, comm, start_ticks=feed.sys.boottime_ticks)
    task.parent = root
    root.children.insert(0, task)
    return task


def test_a_chart_never_composed_draws_no_text() -> None:
    root = make_task(100, "root")
    leaving = make_task(101, "leaving", parent=root)
    chart = Chart(400, 200, name="quiet", theme=LIMITED)
    feed = Feed(chart, root)
    feed.steps(3, {root: (2, 1)})
    newcomer(102, root, feed)
    leaving.is_stale = True
    feed.step()
    root.children.remove(leaving)
    chart.set_hertz(20)
    feed.step()
    chart.discard_snowflakes()
    chart.resize(500, 300)
    feed.step({root: (3, 0)})
    for surface in (chart.layers.text, chart.layers.overlay):
        surface.flush()
        assert not any(bytes(surface.get_data())), "text drawn without a composition"
    chart.to_surface()
    chart.layers.text.flush()
    assert any(bytes(chart.layers.text.get_data()))


def test_rows_that_moved_appeared_and_exited_between_compositions(tmp_path: Path) -> None:
    root = make_task(100, "root")
    mover = make_task(101, "mover", argv=("mover", "--with", "a", "long", "command", "line"), parent=root)
    quitter = make_task(102, "quitter", parent=root)
    make_task(103, "worker", parent=mover, thread=True)
    twins = Twins(root, tmp_path)
    feed = twins.feed
    twins.step()
    twins.step({mover: (3, 1)})
    before = twins.png(twins.lazy)
    old_y = y_of(twins.lazy, mover)
    argv_x = twins.lazy.column_extents()["ArgV/~ThreadName"][0]
    assert has_text(before, argv_x + 40, argv_x + 160, old_y)

    # The mover moves down twice, a task comes and goes, another exits: all before the next composition.
    newcomer(110, root, feed)
    twins.step({mover: (3, 1)})
    newcomer(111, root, feed)
    twins.step({mover: (2, 2)})
    brief = newcomer(112, root, feed, "brief")
    twins.step()
    brief.is_stale = True
    quitter.is_stale = True
    twins.step()
    root.children.remove(brief)
    root.children.remove(quitter)
    twins.step({mover: (1, 0)})

    after = twins.png(twins.lazy)
    new_y = y_of(twins.lazy, mover)
    assert new_y == old_y + 2 * SLOT
    assert has_text(after, argv_x + 40, argv_x + 160, new_y), "the name at its new place"
    assert not has_text(after, argv_x + 40, argv_x + 160, old_y), "nothing of it left at the old place"
    assert twins.lazy.snowflake_count == 2
    for task in (brief, quitter):
        assert has_text(after, 40, 300, y_of(twins.lazy, task)), "a snowflake never composed while live"
    twins.assert_same()

    twins.lazy.set_hertz(20)
    twins.eager.set_hertz(20)
    twins.lazy.discard_snowflakes()
    twins.eager.discard_snowflakes()
    twins.step()
    twins.assert_same()

    twins.lazy.resize(700, 300)
    twins.eager.resize(700, 300)
    twins.step({mover: (5, 5)})
    twins.assert_same()


def test_snowflakes_falling_off_the_bottom_between_compositions(tmp_path: Path) -> None:
    root = make_task(100, "root")
    twins = Twins(root, tmp_path)
    twins.step()
    twins.lazy.to_surface()
    for pid in range(200, 240):
        task = newcomer(pid, root, twins.feed, f"t{pid}")
        twins.step()
        task.is_stale = True
        twins.step()
        root.children.remove(task)
    assert twins.lazy.composed_height == twins.lazy.height, "snowflakes fill the chart"
    twins.assert_same()


def test_the_heading_shows_a_new_rate_at_the_next_composition(tmp_path: Path) -> None:
    root = make_task(100, "root")
    twins = Twins(root, tmp_path)
    twins.step()
    ten = twins.png(twins.lazy).region(500, 0, 796, ROW)
    twins.lazy.set_hertz(20)
    twins.step()
    twenty = twins.png(twins.lazy).region(500, 0, 796, ROW)
    assert ten != twenty
    fresh = Chart(800, 400, name="twin", theme=EVERY_CHANGE, hertz=20)
    Feed(fresh, root).step()
    assert twenty == Png(fresh, tmp_path / "fresh.png").region(500, 0, 796, ROW)


def test_a_new_name_redraws_the_heading_alone_as_a_chart_made_with_that_name_shows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fed(name: str | None) -> Chart:
        root = make_task(100, "root")
        make_task(101, "child", parent=root)
        chart = Chart(800, 400, name=name, theme=LIMITED)
        Feed(chart, root).steps(3, {root: (2, 1)})
        return chart

    def rows_looked_at(*args: object, **kwargs: object) -> None:
        raise AssertionError("a new name draws the heading, not the rows")

    chart = fed("bash")
    Png(chart, tmp_path / "bash.png", composed=True)
    for step, name in enumerate(("vim notes.txt", "make", None)):
        with monkeypatch.context() as patched:
            patched.setattr(TextLayer, "paint", rows_looked_at)
            chart.set_name(name)
            renamed = Png(chart, tmp_path / f"renamed{step}.png", composed=True)
        assert chart.name == name
        assert chart.header_texts()[0] == (f"\\/\\/\\ # {name} @ 10Hz" if name else "\\/\\/\\ @ 10Hz")
        # Pixel for pixel what a chart named so from the start shows: a shorter name leaves nothing of a longer one.
        fresh = Png(fed(name), tmp_path / f"fresh{step}.png", composed=True)
        assert renamed.pixels() == fresh.pixels()


def test_numbers_are_drawn_at_most_every_numbers_refresh_s_of_sample_time(tmp_path: Path) -> None:
    root = make_task(100, "busy", argv=("busy", "--first"))
    limited = Chart(800, 400, name="twin", theme=LIMITED)
    every = Chart(800, 400, name="twin", theme=EVERY_CHANGE)
    feed = Feed(limited, root, mirrors=(every,))  # 10 Hz: 0.1 s of sample time per sample
    pngs = iter(range(1000))

    def both() -> tuple[Png, Png]:
        n = next(pngs)
        # As a live view composes them: a snapshot always shows the latest numbers (see the test below).
        return Png(limited, tmp_path / f"l{n}.png", composed=True), Png(every, tmp_path / f"e{n}.png", composed=True)

    feed.step()  # t = 0.1: the first drawing of the row, numbers and all
    lim, ev = both()
    y = y_of(limited, root)
    extents = limited.column_extents()
    numbers_x0, numbers_x1 = extents["User"][0], extents["Wall"][1]
    argv_x0, argv_x1 = extents["ArgV/~ThreadName"]

    def numbers(png: Png, y: int = y) -> list[tuple[int, int, int]]:
        return png.region(numbers_x0, y, numbers_x1, y + ROW)

    def argv(png: Png) -> list[tuple[int, int, int]]:
        return png.region(argv_x0, y, argv_x1, y + ROW)

    first = numbers(lim)
    assert first == numbers(ev)
    for sample in range(2, 6):  # t = 0.2 .. 0.5: less than 0.5 s after the numbers were drawn
        if sample == 3:
            root.stat.argv = ("busy", "--second")  # type: ignore[union-attr]
            late = newcomer(101, root, feed, "late")
        feed.step({root: (4, 1)})
        lim, ev = both()
        assert numbers(lim) == first, f"sample {sample}: numbers held"
        assert numbers(ev) != first
        if sample >= 3:
            assert argv(lim) == argv(ev), "a new name shows at once"
            late_y = y_of(limited, late)
            if sample == 3:
                assert numbers(lim, late_y) == numbers(ev, late_y), "a new row shows its numbers at once"
    feed.step({root: (4, 1)})  # t = 0.6: 0.5 s after the numbers were drawn
    lim, ev = both()
    assert numbers(lim) == numbers(ev) != first

    feed.step({root: (4, 1)})
    lim, _ = both()
    held = numbers(lim)
    feed.step({root: (4, 1)}, columns=5)  # one late sample covering 0.5 s
    lim, ev = both()
    assert numbers(lim) == numbers(ev) != held


def test_every_snapshot_shows_the_numbers_of_its_own_sample(tmp_path: Path) -> None:
    root = make_task(100, "busy")
    held = Chart(800, 400, name="twin", theme=LIMITED)
    every = Chart(800, 400, name="twin", theme=EVERY_CHANGE)
    feed = Feed(held, root, mirrors=(every,))
    feed.step()
    for n in range(6):  # 0.1 s apart: a live view holds its numbers, snapshots never do
        feed.step({root: (4, 1)})
        x0, x1 = held.column_extents()["User"][0], held.column_extents()["Wall"][1]
        y = y_of(held, root)
        shot, truth = Png(held, tmp_path / f"h{n}.png"), Png(every, tmp_path / f"e{n}.png")
        assert shot.region(x0, y, x1, y + ROW) == truth.region(x0, y, x1, y + ROW), n


def test_a_chart_composed_rarely_shows_the_latest_numbers(tmp_path: Path) -> None:
    root = make_task(100, "busy")
    twins = Twins(root, tmp_path, theme=LIMITED)
    twins.feed.step()
    twins.lazy.to_surface()
    twins.feed.steps(20, {root: (3, 2)})
    twins.eager.to_surface()  # both drew their numbers long enough ago: both show the latest
    twins.assert_same()


def test_compose_paints_a_transparent_background_not_at_all_and_an_opaque_one_over_everything() -> None:
    root = make_task(100, "root")
    clear = Theme(background=(0.0, 0.0, 0.0, 0.0), background_odd=(0.0, 0.0, 0.0, 0.0), divider=(0.0, 0.0, 0.0, 0.0))
    for theme, blue_shows in ((clear, True), (Theme(), False)):
        chart = Chart(400, 200, theme=theme)
        Feed(chart, root).step()
        surface = cairocffi.ImageSurface(cairocffi.FORMAT_ARGB32, 400, 200)
        ctx = cairocffi.Context(surface)
        ctx.set_source_rgba(0.0, 0.0, 1.0, 1.0)
        ctx.paint()
        chart.compose(ctx)
        surface.flush()
        px = memoryview(surface.get_data()).cast("I")
        stride = surface.get_stride() // 4
        y = y_of(chart, root) + 1  # above the text's ink and shadow
        pixel = px[y * stride + 300]
        assert (pixel == 0xFF0000FF) == blue_shows
        assert pixel >> 24 == 0xFF
        assert px[(chart.composed_height + 5) * stride + 300] == 0xFF0000FF, "below the rows: untouched"


def test_to_surface_is_opaque_below_the_rows(tmp_path: Path) -> None:
    root = make_task(100, "root")
    chart = Chart(300, 200, theme=LIMITED)
    Feed(chart, root).step()
    png = Png(chart, tmp_path / "c.png")
    assert is_dark(png.rgb(150, chart.composed_height + 10))
    surface = chart.to_surface()
    px = memoryview(surface.get_data()).cast("I")
    assert all(p >> 24 == 0xFF for p in px), "opaque everywhere"


def test_text_is_crisp_full_white_and_shadowed_over_a_busy_graph(tmp_path: Path) -> None:
    root = make_task(100, "busy", argv=("busy", "--flag"))
    chart = Chart(800, 200, name="crisp", theme=Theme())  # text from x = 4: over the newest columns of the graph
    feed = Feed(chart, root)
    feed.step()
    feed.steps(60, {root: (feed.one_core() // 2, feed.one_core() // 4)})  # 7 px of cyan, 3 of red: no white
    png = Png(chart, tmp_path / "c.png")
    y = y_of(chart, root)
    text = png.region(0, y, 800, y + ROW - 1)
    white = [p for p in text if p == (255, 255, 255)]
    assert len(white) > 100
    # Hinted and not smeared: no grey between white text and the black of its shadow.
    assert not [p for p in text if p[0] == p[1] == p[2] and 0x40 <= p[0] < 0xFF]
    # Over the cyan graph, every glyph pixel's horizontal neighbours are text or opaque black shadow.
    for x in range(1, 55):
        for yy in range(y, y + ROW - 1):
            if png.rgb(x, yy) == (255, 255, 255):
                assert png.rgb(x - 1, yy) in ((255, 255, 255), (0, 0, 0)), (x, yy)
                assert png.rgb(x + 1, yy) in ((255, 255, 255), (0, 0, 0)), (x, yy)


def test_scale_multiplies_rows_and_text(tmp_path: Path) -> None:
    root = make_task(100, "busy")
    one, two = Chart(400, 200, theme=LIMITED), Chart(800, 400, theme=LIMITED, scale=2)
    feed = Feed(one, root, mirrors=(two,))
    feed.step()
    feed.steps(3, {root: (feed.one_core(), 0)})
    assert (y_of(one, root), y_of(two, root)) == (3 * ROW, 6 * ROW)
    small, big = Png(one, tmp_path / "1.png"), Png(two, tmp_path / "2.png")

    def ink_rows(png: Png, y0: int, height: int, x1: int) -> int:
        return sum(any(p == (255, 255, 255) for p in png.region(0, y, x1, y + 1)) for y in range(y0, y0 + height))

    # The heading of the State column, as tall again and as wide again.
    x0, x1 = one.column_extents()["State"]
    bx0, bx1 = two.column_extents()["State"]
    assert abs((bx1 - bx0) - 2 * (x1 - x0)) <= 2
    assert ink_rows(big, 4 * ROW, 2 * ROW, 800) >= 2 * ink_rows(small, 2 * ROW, ROW, 400) - 2
    assert all(is_cyan(p) for p in big.column(1, 6 * ROW, 8 * ROW - 1)), "a full core fills the 29 px bar"


class LayerCopy:
    """The graph and overlay layers as a consumer of ``Layers.take_changes`` rebuilds them, from the changes alone."""

    def __init__(self, chart: Chart) -> None:
        self.chart = chart
        self.graph = bytearray()
        self.overlay = bytearray()

    def catch_up(self) -> None:
        layers = self.chart.layers
        stride, width = layers.argb_stride, layers.width_px
        graph, overlay = (memoryview(s.get_data()) for s in (layers.graph, layers.overlay))
        layers.graph.flush()
        layers.overlay.flush()
        changes = layers.take_changes()
        if changes.everything:
            self.graph, self.overlay = bytearray(graph), bytearray(overlay)
            return
        for plan in changes.moves:
            for copy in (self.graph, self.overlay):
                before = bytes(copy)
                for dst, rows, src in plan:
                    piece = bytes(rows * stride) if src is None else before[src * stride : (src + rows) * stride]
                    copy[dst * stride : (dst + rows) * stride] = piece
        for x in changes.columns:
            for y in range(layers.height_px):
                at = y * stride + 4 * x
                self.graph[at : at + 4] = graph[at : at + 4]
        for x, y, w, h in changes.overlay:
            assert x >= 0 and y >= 0 and x + w <= width and y + h <= layers.height_px
            for r in range(y, y + h):
                self.overlay[r * stride + 4 * x : r * stride + 4 * (x + w)] = overlay[
                    r * stride + 4 * x : r * stride + 4 * (x + w)
                ]

    def assert_same(self) -> None:
        layers = self.chart.layers
        assert bytes(self.graph) == bytes(layers.graph.get_data()), "graph"
        assert bytes(self.overlay) == bytes(layers.overlay.get_data()), "overlay"


def test_the_changes_the_layers_list_rebuild_them_however_rows_moved_between_takes() -> None:
    root = make_task(100, "root")
    mover = make_task(101, "mover", argv=("mover", "--with", "a", "long", "command", "line"), parent=root)
    quitter = make_task(102, "quitter", parent=root)
    make_task(103, "worker", parent=mover, thread=True)
    chart = Chart(800, 400, name="copy", theme=EVERY_CHANGE)
    feed = Feed(chart, root)
    copy = LayerCopy(chart)
    feed.step()
    chart.sync_layers()
    copy.catch_up()  # the first take: everything
    for step in range(3):
        feed.step({mover: (3, step)})
        chart.sync_layers()
        copy.catch_up()
        copy.assert_same()

    # Rows move, text is drawn between moves, and nothing is taken for a while (frames skipped).
    newcomer(110, root, feed)
    feed.step({mover: (3, 1)})
    chart.sync_layers()
    newcomer(111, root, feed)
    feed.step({mover: (2, 2)})
    quitter.is_stale = True
    feed.step()
    root.children.remove(quitter)
    chart.sync_layers()
    feed.step({mover: (1, 0)})
    chart.sync_layers()
    copy.catch_up()
    copy.assert_same()

    chart.discard_snowflakes()
    feed.step({mover: (5, 5)}, columns=3)
    chart.sync_layers()
    copy.catch_up()
    copy.assert_same()

    chart.resize(700, 300)  # smaller: the same layers, every text drawn again
    feed.step({mover: (2, 0)})
    chart.sync_layers()
    copy.catch_up()
    copy.assert_same()


def _heading(name: str) -> bytes:
    """The heading row of a chart named ``name``, composed."""
    chart = Chart(400, 120, name=name, theme=Theme())
    Feed(chart, make_task(100, "sh")).steps(2)
    surface = chart.to_surface()
    return bytes(surface.get_data())[: surface.get_stride() * chart.theme.row_px]


def test_characters_the_font_lacks_are_drawn_in_a_font_that_has_them() -> None:
    """A CJK title (decoded from COMPOUND_TEXT, say) is drawn in a font that has it, not as the chart font's boxes."""
    ctx = new_context(new_image(FORMAT_ARGB32, 1, 1))
    set_hinted_font(ctx, Theme().font_family, Theme().font_size_px, ANTIALIAS_NONE)
    if fallback_face(ctx, "日", Theme().fallback_families) is None:
        pytest.skip("needs a font with CJK characters (ci/setup installs fonts-wqy-microhei)")
    boxes = _heading("\U000f0000\U000f0001\U000f0002 café")  # private use: no font has them, the font's boxes
    cjk = _heading("日本語 café")
    assert cjk != boxes  # drawn in the chart font alone, each of the six would be the same box
    white = 0xFFFFFFFF.to_bytes(4, "little")
    ink = [sum(heading[i : i + 4] == white for i in range(0, len(heading), 4)) for heading in (boxes, cjk)]
    assert ink[1] > ink[0], ink  # many strokes against hollow boxes
