"""``vwm_overlay.vmon``: a Python libvmon.

Follows a process, all its descendants and their threads through /proc with
kept-open files and one ``pread`` per file per sample::

    from vwm_overlay.vmon import Vmon, VmonFlags, ProcWants

    def on_sample(vmon, task, arg):
        used = task.delta  # this sample's use, each tick and byte counted once
        print(task.pid, used.utime_ticks + used.children_utime_ticks, [c.pid for c in task.children])

    with Vmon(VmonFlags.TWO_PASS) as vmon:
        vmon.monitor(pid, callback=on_sample)
        while True:
            vmon.sample()
            time.sleep(0.1)

This package knows nothing of cairo or X.
"""

from ..errors import TaskGone
from ._files import FileTable, classify_link
from ._monitor import DEFAULT_PROC_WANTS, Vmon
from ._walk import iter_tree
from .records import (
    FileObject,
    FileObjectKind,
    OpenFile,
    ProcWants,
    SysStat,
    SysWants,
    Task,
    TaskCallback,
    TaskDelta,
    TaskIO,
    TaskStat,
    TaskVM,
    VmonFlags,
)

__all__ = [
    "DEFAULT_PROC_WANTS",
    "FileObject",
    "FileObjectKind",
    "FileTable",
    "OpenFile",
    "ProcWants",
    "SysStat",
    "SysWants",
    "Task",
    "TaskCallback",
    "TaskDelta",
    "TaskGone",
    "TaskIO",
    "TaskStat",
    "TaskVM",
    "Vmon",
    "VmonFlags",
    "classify_link",
    "iter_tree",
]
