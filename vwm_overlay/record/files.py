"""Creating the recorder's files so that no other user can redirect them, and reporting what fails.

The recorder may run as root in a directory other users can write to.  Every file it creates is therefore created
new (``O_CREAT|O_EXCL|O_NOFOLLOW``: a planted symlink or file is never written through) and written through the fd
that created it; PNGs are moved to their final names with ``renameat2(RENAME_NOREPLACE)``, which replaces nothing.
Every output's directory is opened once, one component at a time, and every name is resolved in that directory's
fd, so renaming or replacing the directory while the recording runs changes nothing.  On the way a symlink is
followed only when this user or root owns it (what the kernel's ``protected_symlinks`` does in sticky directories,
here everywhere): a link another user planted (``shared/logs -> /root/dir``) cannot send root's files elsewhere.  A
directory that another user owns (root's are fine, like ``/tmp``) is refused unless the user insists: its owner
could read, replace or remove what is written there.

Modes: files are created ``0666`` and the output directory ``0777``, both less the umask, as any tool's output.

Failures are reported in one line a script can grep:  ``vwm-overlay: FILE: CAUSE (ERRNO); WHAT HAPPENS NOW``.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import re
import stat
from collections import deque
from typing import TextIO

from ..errors import UsageError

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "LineFile",
    "OutputDir",
    "OutputFile",
    "create_output",
    "describe",
    "hold_parent",
    "open_directory",
    "replace_atomically",
    "report",
    "shown",
    "stale_wip_pid",
    "write_all",
]

FILE_MODE = 0o666
DIR_MODE = 0o777

_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
#: Directories on the way to an output: held for name lookups only, never through a symlink.
_WALK_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
#: Symlinks followed in one path at most, as the kernel's MAXSYMLINKS.
_MAX_SYMLINKS = 40
#: From <linux/fs.h>.
_RENAME_NOREPLACE = 1

#: Names of a descriptor the recorder was started with: written through that descriptor, never opened again.
_INHERITED_RE = re.compile(r"/dev/(?:std(?P<std>out|err)|fd/(?P<fd>\d+))|/proc/self/fd/(?P<proc>\d+)")

#: Work-in-progress PNGs carry the pid of the recorder writing them: ``.NAME.png.PID.WIP``.
_WIP_RE = re.compile(r"\..+\.(\d+)\.WIP")

_libc = ctypes.CDLL(None, use_errno=True)


def describe(err: OSError) -> str:
    """``No space left on device (ENOSPC)``: the cause and the errno's name, for one-line reports."""
    code = err.errno
    if code is None:
        return str(err)
    return f"{os.strerror(code)} ({errno.errorcode.get(code, code)})"


def shown(path: str) -> str:
    """``path`` as a message shows it: quoted when empty or when it holds characters a terminal would act on."""
    return path if path and path.isprintable() else repr(path)


def report(stream: TextIO, path: str, cause: str, what_now: str) -> None:
    """Write ``vwm-overlay: PATH: CAUSE; WHAT_NOW`` to ``stream``; a broken stream (a closed terminal) is ignored."""
    line = f"vwm-overlay: {shown(path)}: {cause}; {what_now}\n"
    try:
        fileno = stream.fileno()
    except (OSError, AttributeError, ValueError):
        fileno = -1
    try:
        if fileno >= 0:
            # Straight to the fd: nothing stays buffered to fail again when the interpreter exits.
            stream.flush()
            os.write(fileno, line.encode(errors="backslashreplace"))
        else:
            stream.write(line)
    except OSError:
        pass


def _owner_allowed(st: os.stat_result) -> bool:
    return st.st_uid in (os.geteuid(), 0)


def _check_owner(path: str, st: os.stat_result, allow_foreign: bool) -> None:
    if allow_foreign or _owner_allowed(st):
        return
    raise UsageError(
        f"{shown(path)}: the directory belongs to another user (uid {st.st_uid}), who could replace what is written "
        "there; nothing was started (--allow-foreign-dir to write there anyway)"
    )


def open_directory(path: str, *, output: str, dir_fd: int | None = None) -> int:
    """An ``O_PATH`` fd of the directory ``path`` (relative to ``dir_fd``, else to the working directory), looked up
    one component at a time; raises ``OSError``, or ``UsageError`` naming ``output`` for another user's symlink.

    A symlink on the way is followed only when this user or root owns it: anyone else's could point it anywhere
    between two runs, and the kernel's ``protected_symlinks`` is not on everywhere.  ``..`` is the parent of where
    the lookup is, as the kernel resolves it.
    """
    names = deque(path.split("/"))
    shown_parts: list[str] = [""] if path.startswith("/") else []
    fd = os.open("/" if path.startswith("/") else ".", _WALK_FLAGS, dir_fd=dir_fd)
    links = 0
    try:
        while names:
            name = names.popleft()
            if name in ("", "."):
                continue
            try:
                next_fd = os.open(name, _WALK_FLAGS, dir_fd=fd)
            except OSError as err:
                if err.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                st = os.lstat(name, dir_fd=fd)
                if not stat.S_ISLNK(st.st_mode):
                    raise
                link = "/".join([*shown_parts, name])
                _check_link_owner(output, link, st)
                links += 1
                if links > _MAX_SYMLINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), link) from None
                target = os.readlink(name, dir_fd=fd)
                names.extendleft(reversed(target.split("/")))
                shown_parts.append(name)
                if target.startswith("/"):
                    os.close(fd)
                    fd = -1
                    fd = os.open("/", _WALK_FLAGS)
                continue
            os.close(fd)
            fd = next_fd
            shown_parts.append(name)
        return fd
    except BaseException:
        if fd >= 0:
            os.close(fd)
        raise


def _check_link_owner(output: str, link: str, st: os.stat_result) -> None:
    if not _owner_allowed(st):
        which = "" if link == output.rstrip("/") else f"{shown(link)} "
        raise UsageError(
            f"{shown(output)}: {which}is a symlink another user owns (uid {st.st_uid}), so it is not followed; "
            "nothing was started (give the path it leads to, if you trust it)"
        )


def hold_parent(path: str, *, allow_foreign: bool = False) -> tuple[int, str]:
    """The directory of the output file ``path``, held (an ``O_PATH`` fd, see :func:`open_directory`), and the
    file's name in it; ``UsageError`` when it cannot or may not be written there (another user's directory)."""
    directory, name = os.path.split(path)
    try:
        fd = open_directory(directory or ".", output=path)
    except OSError as err:
        raise UsageError(f"{shown(path)}: {describe(err)}; nothing was started") from None
    try:
        _check_owner(directory or ".", os.fstat(fd), allow_foreign)
    except BaseException:
        os.close(fd)
        raise
    return fd, name


class OutputDir:
    """The output directory, held open: PNGs are created, renamed and removed relative to its fd."""

    def __init__(self, path: str, *, allow_foreign: bool = False) -> None:
        """Create ``path`` if missing (one level, as vwm does), open it and prove it writable; else ``UsageError``.

        Every directory on the way is looked up as :func:`open_directory` does.  A real write is the only test
        that holds for root and for read-only mounts, where permission bits say nothing.
        """
        self.path = path
        self.fd = self._open(path)
        try:
            _check_owner(path, os.fstat(self.fd), allow_foreign)
            self._probe()
        except BaseException:
            os.close(self.fd)
            raise

    @staticmethod
    def _open(path: str) -> int:
        try:
            try:
                held = open_directory(path, output=path)
            except FileNotFoundError:
                held = OutputDir._create(path)
            try:
                # Readable: the directory is listed (stale .WIP files) and fsynced.
                return os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=held)
            finally:
                os.close(held)
        except NotADirectoryError:
            raise UsageError(f"output directory {path!r} is not a directory") from None
        except OSError as err:
            raise UsageError(f"cannot open output directory {path!r}: {describe(err)}") from None

    @staticmethod
    def _create(path: str) -> int:
        parent_path, name = os.path.split(path.rstrip("/"))
        try:
            parent = open_directory(parent_path or ".", output=path)
            try:
                os.mkdir(name, DIR_MODE, dir_fd=parent)
            except FileExistsError:
                pass  # made meanwhile
            except BaseException:
                os.close(parent)
                raise
        except OSError as err:
            raise UsageError(f"cannot create output directory {path!r}: {describe(err)}") from None
        try:
            return open_directory(name, output=path, dir_fd=parent)
        finally:
            os.close(parent)

    def _probe(self) -> None:
        probe = f".vwm-overlay-probe.{os.getpid()}.{os.urandom(4).hex()}"
        try:
            os.close(os.open(probe, _CREATE_FLAGS, 0o600, dir_fd=self.fd))
        except OSError as err:
            raise UsageError(f"output directory {self.path!r} is not writable: {describe(err)}") from None
        os.unlink(probe, dir_fd=self.fd)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def join(self, name: str) -> str:
        """The path of ``name`` in this directory, as shown to the user."""
        return os.path.join(self.path, name)

    def create(self, name: str, *, replace_own: bool = False) -> int:
        """Create ``name`` new and return its fd (open for writing).

        With ``replace_own``, an existing regular file that this user owns is removed first (the leftover of an
        earlier run); anything else there (a symlink, another user's file) raises ``FileExistsError``.
        """
        try:
            return os.open(name, _CREATE_FLAGS, FILE_MODE, dir_fd=self.fd)
        except FileExistsError:
            if not (replace_own and self._is_own_file(name)):
                raise
        os.unlink(name, dir_fd=self.fd)  # unlink never follows a symlink: at worst it removes a name
        return os.open(name, _CREATE_FLAGS, FILE_MODE, dir_fd=self.fd)

    def _is_own_file(self, name: str) -> bool:
        try:
            st = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except OSError:
            return False
        return stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid()

    def exists(self, name: str) -> bool:
        try:
            os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return True

    def rename_new(self, source: str, target: str) -> None:
        """Rename ``source`` to ``target``; ``FileExistsError`` if ``target`` exists (nothing is replaced)."""
        if _libc.renameat2(self.fd, os.fsencode(source), self.fd, os.fsencode(target), _RENAME_NOREPLACE) == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOSYS):
            raise OSError(code, os.strerror(code), self.join(target))
        # A file system without RENAME_NOREPLACE: look first (a rename replaces only a name, never a target).
        if self.exists(target):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), self.join(target))
        os.rename(source, target, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def remove(self, name: str) -> None:
        try:
            os.unlink(name, dir_fd=self.fd)
        except OSError:
            pass

    def fsync(self) -> None:
        try:
            os.fsync(self.fd)
        except OSError:
            pass  # some file systems refuse fsync on a directory; the rename itself is still atomic

    def remove_stale_wips(self) -> list[str]:
        """Remove the work-in-progress PNGs that killed recorders left here; returns their names.

        Only what is provably ours and stale: a regular file this user owns, named with the pid of a recorder that
        no longer runs.  A name with a live pid, a symlink or another user's file is left alone.
        """
        removed: list[str] = []
        try:
            names = os.listdir(self.fd)
        except OSError:
            return removed
        for name in names:
            pid = stale_wip_pid(name)
            if pid is None or pid == os.getpid() or _pid_alive(pid) or not self._is_own_file(name):
                continue
            try:
                os.unlink(name, dir_fd=self.fd)
            except OSError:
                continue
            removed.append(name)
        return removed


def stale_wip_pid(name: str) -> int | None:
    """The recorder pid in a work-in-progress name (``.NAME.png.PID.WIP``), or None for any other name."""
    match = _WIP_RE.fullmatch(name)
    return int(match.group(1)) if match else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process, or a number no pid can be: not provably dead
    return True


class OutputFile:
    """An output file (the log, a summary, a trace), open for writing, with the directory that holds its name.

    ``dir_fd`` is -1 for a descriptor the recorder was started with (``/dev/stdout``): it has no name to remove.  A
    file that replaces an existing one of ours is made under a hidden ``temporary`` name and takes the final name
    only in :meth:`commit`, once the run started: a run that never starts leaves the old file as it was.
    """

    def __init__(self, fd: int, path: str, dir_fd: int = -1, name: str = "", temporary: str | None = None) -> None:
        self.fd = fd
        self.path = path
        self._dir_fd = dir_fd
        self._name = name
        self._temporary = temporary

    def commit(self, stderr: TextIO) -> None:
        """The run started: a file that replaces an existing one takes its name.  A failure is said on ``stderr``
        (the file is then written under its temporary name)."""
        if self._temporary is None or self._dir_fd < 0:
            return
        try:
            os.rename(self._temporary, self._name, src_dir_fd=self._dir_fd, dst_dir_fd=self._dir_fd)
        except OSError as err:
            kept = os.path.join(os.path.dirname(self.path), self._temporary)
            report(stderr, self.path, describe(err), f"it is written to {shown(kept)} instead")
        self._temporary = None

    def close(self) -> None:
        """Close the file; one never committed that would have replaced an old one goes, the old one stays."""
        if self._temporary is not None and self._dir_fd >= 0:
            _remove(self._temporary, self._dir_fd)
            self._temporary = None
        for fd in (self.fd, self._dir_fd):
            if fd >= 0:
                os.close(fd)
        self.fd = self._dir_fd = -1

    def discard(self) -> None:
        """Close and remove the file, when the run it was for never happened; a file that replaced it under that
        name since is left alone."""
        try:
            if self.fd >= 0 and self._dir_fd >= 0 and self._temporary is None:
                ours = os.fstat(self.fd)
                there = os.stat(self._name, dir_fd=self._dir_fd, follow_symlinks=False)
                if (ours.st_dev, ours.st_ino) == (there.st_dev, there.st_ino):
                    os.unlink(self._name, dir_fd=self._dir_fd)
        except OSError:
            pass
        finally:
            self.close()


def create_output(path: str, *, allow_foreign: bool = False) -> OutputFile:
    """Open ``path`` for an output (the log, a summary, a trace); raises ``UsageError`` if it may not be written.

    A new file is created, in its directory held as :func:`hold_parent` does.  An existing regular file of this
    user is replaced by a new one once the run starts (see :class:`OutputFile`; the old one's contents are never
    written through).  A pipe, terminal or other character device (``/dev/stdout``, a FIFO), reached through names
    this user or root owns, is written as it is.  Anything else is refused: what another user owns (a planted
    symlink, their file), a symlink to a file.  ``/dev/stdout``, ``/dev/stderr`` and ``/dev/fd/N`` are the
    descriptors the recorder was started with, whatever they are (``> log.jsonl`` too).
    """
    inherited = _INHERITED_RE.fullmatch(path)
    if inherited is not None:
        std, number, proc = inherited.group("std", "fd", "proc")
        fd = {"out": 1, "err": 2}[std] if std else int(number or proc)
        try:
            return OutputFile(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3), path)
        except OSError as err:
            raise UsageError(f"{shown(path)}: {describe(err)}; nothing was started") from None
    dir_fd, name = hold_parent(path, allow_foreign=allow_foreign)
    try:
        fd, temporary = _create_in(dir_fd, name, path)
    except BaseException:
        os.close(dir_fd)
        raise
    return OutputFile(fd, path, dir_fd, name, temporary)


def _create_in(dir_fd: int, name: str, path: str) -> tuple[int, str | None]:
    """A new file ``name`` in ``dir_fd``, or what :func:`_open_existing` opens when there is one."""
    for _attempt in range(3):
        try:
            return os.open(name, _CREATE_FLAGS, FILE_MODE, dir_fd=dir_fd), None
        except FileExistsError:
            pass
        except OSError as err:
            raise UsageError(f"{shown(path)}: {describe(err)}; nothing was started") from None
        existing = _open_existing(dir_fd, name, path)
        if existing is not None:
            return existing
    raise UsageError(f"{shown(path)}: {describe(FileExistsError(errno.EEXIST, ''))}; nothing was started")


def _temporary_name(name: str, suffix: str) -> str:
    """A hidden name beside ``name`` that no other recorder uses: ``.NAME.PID.RANDOM.SUFFIX``."""
    # Cut so that it stays a valid file name even when ``name`` is as long as one may be.
    return f".{name[:200]}.{os.getpid()}.{os.urandom(4).hex()}.{suffix}"


def _remove(name: str, dir_fd: int) -> None:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except OSError:
        pass


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` (``os.write`` may write less than asked)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def replace_atomically(dir_fd: int, name: str, data: bytes) -> None:
    """Replace ``name`` in the directory ``dir_fd`` with ``data`` as one step: a new temporary file beside it,
    fsync, rename over it (a symlink there is replaced, never followed)."""
    # The name does not end in the target's suffix (.prom), so a collector reading the directory never picks it up.
    temporary = _temporary_name(name, "tmp")
    fd = os.open(temporary, _CREATE_FLAGS, FILE_MODE, dir_fd=dir_fd)
    try:
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        _remove(temporary, dir_fd)
        raise


def _open_existing(dir_fd: int, name: str, path: str) -> tuple[int, str | None] | None:
    """An fd for an existing output target that is safe to write, or None when it is gone meanwhile.

    For an own regular file, a new file under a temporary name (returned too) that replaces it once committed.
    """
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None  # gone meanwhile: the caller creates it
    except OSError as err:
        raise UsageError(f"{shown(path)}: {describe(err)}; nothing was started") from None
    if not _owner_allowed(st) or (stat.S_ISREG(st.st_mode) and st.st_uid != os.geteuid()):
        raise UsageError(f"{shown(path)}: exists and belongs to another user (uid {st.st_uid}); nothing was started")
    if stat.S_ISREG(st.st_mode):
        # A new file, to take the name: the old one's contents are never written through.
        temporary = _temporary_name(name, "new")
        try:
            return os.open(temporary, _CREATE_FLAGS, FILE_MODE, dir_fd=dir_fd), temporary
        except OSError as err:
            raise UsageError(f"{shown(path)}: cannot replace it: {describe(err)}; nothing was started") from None
    try:
        # No O_CREAT, no O_TRUNC: opening a stream creates and truncates nothing.  A symlink of ours or root's
        # (to /dev/stdout, say) is followed like any path, its directories looked up as open_directory does.
        fd = _open_stream(dir_fd, name, path)
    except OSError as err:
        raise UsageError(f"{shown(path)}: {describe(err)}; nothing was started") from None
    mode = os.fstat(fd).st_mode
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode):
        return fd, None
    os.close(fd)
    raise UsageError(f"{shown(path)}: leads to a file, not a pipe or terminal; nothing was started (remove it first)")


def _open_stream(dir_fd: int, name: str, path: str) -> int:
    """``name`` in ``dir_fd`` opened for writing, creating and truncating nothing; a symlink is followed when this
    user or root owns it, its target's directories looked up as :func:`open_directory` does."""
    parent = os.open(".", _WALK_FLAGS, dir_fd=dir_fd)
    try:
        for _link in range(_MAX_SYMLINKS):
            try:
                return os.open(name, os.O_WRONLY | os.O_NOCTTY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
            except OSError as err:
                if err.errno != errno.ELOOP:
                    raise
            _check_link_owner(path, name, os.stat(name, dir_fd=parent, follow_symlinks=False))
            directory, name = os.path.split(os.readlink(name, dir_fd=parent))
            next_parent = open_directory(directory or ".", output=path, dir_fd=parent)
            os.close(parent)
            parent = next_parent
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
    finally:
        os.close(parent)


class LineFile:
    """The log's stream: lines written straight to an fd.  After a failed write a regular file is cut back to its
    last whole line, so what was logged stays valid JSON lines; the error (naming the file) propagates."""

    def __init__(self, output: OutputFile) -> None:
        self.output = output
        self.path = output.path
        try:
            # A file given as stdout may hold something already.
            self._whole_bytes = os.lseek(output.fd, 0, os.SEEK_CUR)
        except OSError:
            self._whole_bytes = 0  # a pipe

    def write(self, text: str) -> int:
        view = memoryview(text.encode("utf-8", "surrogateescape"))
        written = 0
        try:
            while written < len(view):
                written += os.write(self.fd, view[written:])
        except OSError as err:
            self._cut()
            err.filename = self.path
            raise
        self._whole_bytes += written
        return len(text)

    def flush(self) -> None:
        """Nothing is buffered."""

    def _cut(self) -> None:
        try:
            if stat.S_ISREG(os.fstat(self.fd).st_mode):
                os.ftruncate(self.fd, self._whole_bytes)
        except OSError:
            pass

    @property
    def fd(self) -> int:
        """The file's fd; -1 once closed."""
        return self.output.fd

    def close(self) -> None:
        self.output.close()

    def discard(self) -> None:
        self.output.discard()
