"""Open files of monitored processes, as objects shared between them.

Every fd is resolved to a :class:`FileObject`: pipes and sockets by inode,
anonymous inodes and paths by their link text, so two processes on the two
ends of one pipe, or a parent and a child sharing a log file, point at the
same object.  Objects are reference-counted by the fds that point at them.
"""

from __future__ import annotations

from collections.abc import Callable

from .records import FileObject, FileObjectKind, OpenFile

__all__ = ["FileTable", "classify_link"]

FileObjectCallback = Callable[[FileObject], None]


def classify_link(link: str) -> tuple[FileObjectKind, str]:
    """An fd's link text (``/proc/PID/fd/N``) -> (kind, key of the shared object)."""
    if link.startswith("pipe:["):
        return FileObjectKind.PIPE, link
    if link.startswith("socket:["):
        return FileObjectKind.SOCKET, link
    if link.startswith("anon_inode:"):
        return FileObjectKind.ANON_INODE, link
    if link.startswith("/"):
        return FileObjectKind.FILE, link
    return FileObjectKind.OTHER, link


class FileTable:
    """The instance-wide table of shared file objects."""

    def __init__(self, ctor: FileObjectCallback | None = None, dtor: FileObjectCallback | None = None) -> None:
        self.objects: dict[str, FileObject] = {}
        self.ctor = ctor
        self.dtor = dtor

    def ref(self, link: str) -> FileObject:
        obj = self.objects.get(link)
        if obj is None:
            kind, key = classify_link(link)
            obj = FileObject(kind, key)
            self.objects[key] = obj
            if self.ctor is not None:
                self.ctor(obj)
        obj.refs += 1
        return obj

    def unref(self, obj: FileObject) -> None:
        obj.refs -= 1
        if obj.refs <= 0:
            del self.objects[obj.key]
            if self.dtor is not None:
                self.dtor(obj)

    def update(self, files: dict[int, OpenFile], current: dict[int, str], generation: int) -> bool:
        """Reconcile a process's fds with ``current`` (fd -> link text).

        Returns True when anything changed.  An fd whose number was reused for
        another file is re-pointed, since numbers are recycled by open(2).
        """
        changed = False
        for fd, link in current.items():
            entry = files.get(fd)
            if entry is None:
                files[fd] = OpenFile(fd, link, self.ref(link), generation)
                changed = True
            else:
                entry.generation = generation
                if entry.link != link:
                    self.unref(entry.obj)
                    entry.link = link
                    entry.obj = self.ref(link)
                    changed = True
        if len(files) != len(current):
            for fd in [fd for fd, entry in files.items() if entry.generation != generation]:
                self.unref(files.pop(fd).obj)
                changed = True
        return changed

    def release(self, files: dict[int, OpenFile]) -> None:
        for entry in files.values():
            self.unref(entry.obj)
        files.clear()
