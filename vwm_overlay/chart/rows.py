"""Chart rows: the per-task state a chart keeps, the tree walk that orders rows, and the text of each cell.

Row order follows vwm: a process, then its threads, then its child processes, each one level deeper.  Tree lines
follow vwm's rules too: nothing for the root; a vertical bar for every ancestor below the root that still has a
live sibling after it; and a tee (or a corner for the last sibling) only when some earlier live sibling in the
same list has live children or threads, so a flat list of leaves has no lines at all.
"""

from __future__ import annotations

from vwm_overlay.vmon.records import Task

__all__ = ["MISSED_NAME", "Cell", "Placed", "Row", "TreeRect", "argv_text", "live_texts", "walk_tree"]

MISSED_NAME = "# missed it!"

#: ``(x, y, width, height)`` of one tree line, relative to the tree column and the top of the row's slot.
TreeRect = tuple[int, int, int, int]
#: ``(x0, x1, align, content)``: one rendered text cell (content is a string or the tree's lines).
Cell = tuple[int, int, int, "str | tuple[TreeRect, ...]"]
#: ``(task, depth, tree lines)`` of a live row, in chart order.
Placed = tuple[Task, int, tuple[TreeRect, ...]]


class Row:
    """What a chart remembers about one task's row."""

    __slots__ = (
        "argv_key",
        "argv_label",
        "busy_until_column",
        "cells",
        "depth",
        "finish_pending",
        "height_px",
        "is_thread",
        "members",
        "numbers_s",
        "placed_px",
        "preexisting",
        "run",
        "snow_texts",
        "start_pending",
        "task",
        "text_key",
        "tree",
        "y_px",
    )

    def __init__(self, task: Task, height_px: int, *, preexisting: bool) -> None:
        self.task = task
        #: The (comm, argv) the cached ``argv_label`` was made from.
        self.argv_key: tuple[str | None, tuple[str, ...]] | None = None
        self.argv_label = ""
        self.is_thread = task.is_thread
        self.height_px = height_px
        #: The height its pixels in the layers have (``height_px`` until the lanes are switched).
        self.placed_px = height_px
        self.y_px = -1  # not placed yet
        self.depth = 0
        #: A collapsed run of idle siblings that this row stands for (``task`` first); empty for one task.
        self.members: tuple[Task, ...] = ()
        self.tree: tuple[TreeRect, ...] = ()
        self.preexisting = preexisting
        self.start_pending = not preexisting
        self.finish_pending = False
        #: The pixels of the latest column, repeated when a sample covers several columns.
        self.run = b""
        #: The texts of its snowflake row, frozen when the task exited.
        self.snow_texts: tuple[str, ...] = ()
        #: A snowflake of a task that was busy when it exited is kept in view until the chart has drawn this many
        #: columns (its graph has scrolled off by then); -1 for any other row.
        self.busy_until_column = -1
        #: Cells as last rendered (None: nothing valid in the text layer for this row).
        self.cells: list[Cell] | None = None
        #: The chart's sample time when the User, Sys and Wall shown in ``cells`` were rendered.
        self.numbers_s = float("-inf")
        #: What ``cells`` were made from, apart from the numbers (the chart's to compare; None: nothing yet).
        self.text_key: tuple[object, ...] | None = None


def argv_text(task: Task) -> str:
    """``~comm`` for a thread, ``comm arg1 arg2...`` for a process, ``# missed it!`` for a name never read."""
    stat = task.stat
    comm = stat.comm if stat is not None and stat.comm is not None else MISSED_NAME
    if task.is_thread:
        return _printable("~" + comm)
    if stat is None or len(stat.argv) < 2:
        return _printable(comm)
    # The kernel truncates comm to 15 characters but it names what runs now, so it leads; argv[0] is dropped.
    return _printable(comm + " " + " ".join(stat.argv[1:512]))


def live_texts(
    task: Task, index: int, ticks_per_s: int, boottime_ticks: int, argv: str | None = None
) -> tuple[str, ...]:
    """Texts of a live row: Row, User, Sys, Wall, ArgV, WChan, PID, State.

    Wall is the task's age, ``??s`` when its start time is unknown or later than the boot-time clock; WChan
    ``0`` shows as ``-``; WChan and State are blank for a process that has threads (its main thread's row shows
    them).  ``argv`` is the row's ArgV text when the caller has it already (see :func:`argv_text`).
    """
    stat = task.stat
    wchan = state = ""
    if stat is None:
        user = sys = wall = "??s"
    else:
        user = f"{stat.utime_ticks / ticks_per_s:.2f}s"
        sys = f"{stat.stime_ticks / ticks_per_s:.2f}s"
        start = stat.start_ticks
        wall = "??s" if start == 0 or start > boottime_ticks else f"{(boottime_ticks - start) / ticks_per_s:.2f}s"
        if not task.threads:
            wchan = "-" if stat.wchan == "0" else stat.wchan or ""
            state = stat.state
    if argv is None:
        argv = argv_text(task)
    return (str(index), user, sys, wall, argv, wchan, f"{task.pid:5d}", state)


def _printable(text: str) -> str:
    """Control characters (a comm or an argument may hold a newline) shown as ``?``."""
    return text if text.isprintable() else "".join(c if c.isprintable() else "?" for c in text)


def walk_tree(root: Task, indent_px: int, row_px: int, slot_px: int) -> tuple[list[Placed], list[Task]]:
    """Live tasks in chart order with their depth and tree lines, and the stale ones (exited: to snowflake).

    Descendants of a stale task are taken as stale as well.  ``slot_px`` is the height of a process's slot
    (its row and lanes); a thread's slot is ``row_px``.
    """
    live: list[Placed] = []
    stale: list[Task] = []
    shapes: dict[tuple[tuple[int, ...], int, bool, bool, int, bool], tuple[TreeRect, ...]] = {}
    # (task, depth, x of ancestor bars, whether a tee is drawn, whether a live sibling follows)
    stack: list[tuple[Task, int, tuple[int, ...], bool, bool]] = [(root, 0, (), False, False)]
    push = stack.append
    # A task gets one row even where the tasks do not form a tree (a group's top-level process that is also
    # another's child until the group catches up): a second row would overlap the others.
    walked: set[int] = set()
    while stack:
        task, depth, bars, tee, has_later = stack.pop()
        if id(task) in walked:
            continue
        walked.add(id(task))
        if task.is_stale:
            _collect_stale(task, stale)
            continue
        height = row_px if task.is_thread else slot_px
        threads, children = task.threads, task.children
        threads_tee = children_tee = False
        if threads:
            last_threads = _last_live(threads)
            threads_tee = _any_parent(threads, last_threads)
        if children:
            last_children = _last_live(children)
            children_tee = _any_parent(children, last_children)
        # Carry a tee below up through this row's lanes to its name.
        joined = (threads_tee or children_tee) and height > row_px
        key = (bars, depth, tee, has_later, height, joined)
        rects = shapes.get(key)
        if rects is None:
            rects = shapes[key] = _tree_rects(bars, depth, tee, has_later, indent_px, row_px, height, joined=joined)
        live.append((task, depth, rects))
        if threads or children:
            child_bars = (*bars, (depth - 1) * indent_px + _tree_inset(indent_px)) if depth >= 1 and has_later else bars
            below = depth + 1
            # Pushed in reverse: threads come out first, then children, each in list order.
            for i in range(len(children) - 1, -1, -1):
                push((children[i], below, child_bars, children_tee, i < last_children))
            for i in range(len(threads) - 1, -1, -1):
                push((threads[i], below, child_bars, threads_tee, i < last_threads))
    return live, stale


def _tree_rects(
    bars: tuple[int, ...],
    depth: int,
    tee: bool,
    has_later: bool,
    indent_px: int,
    row_px: int,
    height: int,
    *,
    joined: bool,
) -> tuple[TreeRect, ...]:
    # vwm's geometry at 7 px of indent (lines 4 px in, 1 px wide, tees 2 px long), scaled with the indent.
    inset, width = _tree_inset(indent_px), max(indent_px // 7, 1)
    rects = [(x, 0, width, height) for x in bars]
    if tee:
        x = (depth - 1) * indent_px + inset
        rects.append((x, 0, width, height if has_later else row_px - inset))
        rects.append((x + width, row_px - inset - width, 2 * width, width))
    if joined:
        rects.append((depth * indent_px + inset, row_px, width, height - row_px))
    return tuple(rects)


def _tree_inset(indent_px: int) -> int:
    return indent_px * 4 // 7


def _any_parent(siblings: list[Task], last_live: int) -> bool:
    """Whether a live sibling before the last live one has live children or threads (vwm's tee rule)."""
    for i in range(last_live):
        s = siblings[i]
        if (s.threads or s.children) and not s.is_stale and _has_live_descendants(s):
            return True
    return False


def _last_live(siblings: list[Task]) -> int:
    for i in range(len(siblings) - 1, -1, -1):
        if not siblings[i].is_stale:
            return i
    return -1


def _has_live_descendants(task: Task) -> bool:
    if not task.threads and not task.children:
        return False
    return any(not t.is_stale for t in task.threads) or any(not t.is_stale for t in task.children)


def _collect_stale(task: Task, out: list[Task]) -> None:
    todo = [task]
    while todo:
        t = todo.pop()
        out.append(t)
        todo.extend(reversed(t.children))
        todo.extend(reversed(t.threads))
