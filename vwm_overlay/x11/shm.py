"""MIT-SHM: images the X server reads straight from memory shared with it, so uploading a frame copies nothing.

python-xlib has no binding for the extension, so the four requests used here
(QueryVersion, Attach, Detach, PutImage) and the completion event are defined
the way python-xlib's own extensions define theirs.  The memory is a SysV
segment (``shmget``/``shmat`` through ctypes), marked for removal as soon as the
server has attached it: the kernel frees it when both sides let go, even if
this program crashes.

Used only where it cannot go wrong: a local connection (a unix socket), a server
that has the extension, images in this machine's byte order (shared memory
cannot be byte-swapped) and an Attach that succeeds.  ``VWM_OVERLAY_NO_SHM=1``
in the environment turns it off.

The server reads a segment after the PutImage request and says when it is done
with a completion event; until then the memory must not be drawn into.
:meth:`Shm.busy` says whether that is still so (the events reach :class:`Shm`
through :meth:`Connection.events`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import socket
import sys
import time
from collections.abc import Callable

from Xlib import X
from Xlib import error as xerror
from Xlib.protocol import rq

from .connection import Connection

__all__ = ["NO_SHM_ENV", "Segment", "Shm", "shm_for"]

log = logging.getLogger(__name__)

#: Set to ``1`` to send every image with PutImage, never through shared memory.
NO_SHM_ENV = "VWM_OVERLAY_NO_SHM"

#: A segment the server has not released this long after a PutImage is checked with a round trip (a completion
#: only fails to come when the request failed).
STALL_S = 0.5

# sys/ipc.h and sys/shm.h
_IPC_PRIVATE = 0
_IPC_CREAT = 0o1000
_IPC_RMID = 0

_EXTENSION = "MIT-SHM"


# -- the protocol (MIT-SHM 1.1, shmproto.h) ------------------------------------------------


class _QueryVersion(rq.ReplyRequest):
    _request = rq.Struct(rq.Card8("opcode"), rq.Opcode(0), rq.RequestLength())
    _reply = rq.Struct(
        rq.ReplyCode(),
        rq.Bool("shared_pixmaps"),
        rq.Card16("sequence_number"),
        rq.ReplyLength(),
        rq.Card16("major_version"),
        rq.Card16("minor_version"),
        rq.Card16("uid"),
        rq.Card16("gid"),
        rq.Card8("pixmap_format"),
        rq.Pad(15),
    )


class _Attach(rq.Request):
    _request = rq.Struct(
        rq.Card8("opcode"),
        rq.Opcode(1),
        rq.RequestLength(),
        rq.Card32("shmseg"),
        rq.Card32("shmid"),
        rq.Bool("read_only"),
        rq.Pad(3),
    )


class _Detach(rq.Request):
    _request = rq.Struct(rq.Card8("opcode"), rq.Opcode(2), rq.RequestLength(), rq.Card32("shmseg"))


class _PutImage(rq.Request):
    _request = rq.Struct(
        rq.Card8("opcode"),
        rq.Opcode(3),
        rq.RequestLength(),
        rq.Card32("drawable"),
        rq.Card32("gc"),
        rq.Card16("total_width"),
        rq.Card16("total_height"),
        rq.Card16("src_x"),
        rq.Card16("src_y"),
        rq.Card16("src_width"),
        rq.Card16("src_height"),
        rq.Int16("dst_x"),
        rq.Int16("dst_y"),
        rq.Card8("depth"),
        rq.Card8("format"),
        rq.Bool("send_event"),
        rq.Pad(1),
        rq.Card32("shmseg"),
        rq.Card32("offset"),
    )


class _Completion(rq.Event):
    _code = None
    _fields = rq.Struct(
        rq.Card8("type"),
        rq.Pad(1),
        rq.Card16("sequence_number"),
        rq.Card32("drawable"),
        rq.Card16("minor_event"),
        rq.Card8("major_event"),
        rq.Pad(1),
        rq.Card32("shmseg"),
        rq.Card32("offset"),
        rq.Pad(12),
    )


# -- shared memory ------------------------------------------------------------------------------


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
    libc.shmget.restype = ctypes.c_int
    libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    libc.shmat.restype = ctypes.c_void_p
    libc.shmdt.argtypes = [ctypes.c_void_p]
    libc.shmdt.restype = ctypes.c_int
    libc.shmctl.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
    libc.shmctl.restype = ctypes.c_int
    return libc


_LIBC: ctypes.CDLL | None = None


def _c() -> ctypes.CDLL:
    global _LIBC
    if _LIBC is None:
        _LIBC = _libc()
    return _LIBC


def _os_error(call: str) -> OSError:
    errno = ctypes.get_errno()
    return OSError(errno, f"{call}: {os.strerror(errno)}")


class Segment:
    """A private SysV shared memory segment of ``size`` bytes, mapped into this process.

    ``memory`` is writable and stays valid until :meth:`close`; nothing may touch
    it afterwards (a cairo surface over it must be finished first).
    """

    def __init__(self, size: int) -> None:
        libc = _c()
        shmid = int(libc.shmget(_IPC_PRIVATE, size, _IPC_CREAT | 0o600))
        if shmid < 0:
            raise _os_error("shmget")
        address = libc.shmat(shmid, None, 0)
        if address is None or address == ctypes.c_void_p(-1).value:
            err = _os_error("shmat")
            libc.shmctl(shmid, _IPC_RMID, None)
            raise err
        self.shmid = shmid
        self.size = size
        self._address: int | None = int(address)
        self._removed = False
        self.memory = (ctypes.c_ubyte * size).from_address(self._address)

    def remove(self) -> None:
        """Mark the segment for removal: the kernel frees it once no process (the server included) maps it."""
        if not self._removed:
            self._removed = True
            _c().shmctl(self.shmid, _IPC_RMID, None)

    def close(self) -> None:
        """Unmap the segment from this process (and mark it for removal, if not yet)."""
        self.remove()
        if self._address is not None:
            _c().shmdt(self._address)
            self._address = None


# -- the extension on one connection ---------------------------------------------------------------


class Shm:
    """MIT-SHM on one connection: attaching segments, PutImage from them, and which ones the server still reads.

    Get it with :func:`shm_for`, which returns None where it is not to be used.
    """

    def __init__(self, conn: Connection, major_opcode: int, first_event: int) -> None:
        self.conn = conn
        self.major_opcode = major_opcode
        self.completion_type = first_event
        #: False once an Attach failed (the server cannot reach our segments): use PutImage from then on.
        self.usable = True
        self._busy: dict[int, float] = {}  # segment id -> when its last PutImage was sent
        self._clock: Callable[[], float] = time.monotonic
        conn.display.extension_add_event(first_event, _Completion)
        conn.take_events(self._take)

    def attach(self, segment: Segment) -> int | None:
        """Let the server map ``segment`` (one round trip); its id for :meth:`put_image`, or None if it could not.

        The segment is marked for removal either way, so it never outlives its users.
        """
        if not self.usable:
            return None
        display = self.conn.display.display
        caught = xerror.CatchError()
        try:
            seg_id = int(display.allocate_resource_id())
            with self.conn.guard():
                _Attach(
                    display=display,
                    onerror=caught,
                    opcode=self.major_opcode,
                    shmseg=seg_id,
                    shmid=segment.shmid,
                    read_only=True,
                )
            self.conn.sync()
        finally:
            segment.remove()
        if caught.get_error() is not None:
            log.info("MIT-SHM attach failed (%s); sending images with PutImage", caught.get_error())
            self.usable = False
            self.conn.display.display.free_resource_id(seg_id)
            return None
        return seg_id

    def detach(self, seg_id: int) -> None:
        """Have the server unmap the segment ``seg_id``."""
        self._busy.pop(seg_id, None)
        with self.conn.guard():
            _Detach(display=self.conn.display.display, opcode=self.major_opcode, shmseg=seg_id)
        self.conn.display.display.free_resource_id(seg_id)

    def put_image(
        self, drawable: int, gc: int, seg_id: int, width: int, height: int, first_row: int, rows: int
    ) -> None:
        """Draw rows ``[first_row, first_row + rows)`` of a ``width`` x ``height`` ARGB image to the same place.

        The image starts at the segment's first byte, 4 bytes per pixel with no
        padding.  The segment is busy until the server says it is done.
        """
        self._busy[seg_id] = self._clock()
        with self.conn.guard():
            _PutImage(
                display=self.conn.display.display,
                opcode=self.major_opcode,
                drawable=drawable,
                gc=gc,
                total_width=width,
                total_height=height,
                src_x=0,
                src_y=first_row,
                src_width=width,
                src_height=rows,
                dst_x=0,
                dst_y=first_row,
                depth=32,
                format=X.ZPixmap,
                send_event=True,
                shmseg=seg_id,
                offset=0,
            )

    def busy(self, seg_id: int) -> bool:
        """Whether the server may still be reading the segment (its completion event has not been seen)."""
        sent = self._busy.get(seg_id)
        if sent is None:
            return False
        if self._clock() - sent < STALL_S:
            return True
        # No completion this long: the request failed (the error went to the connection's handler).  After a
        # round trip the server has handled it, whatever happened.
        self.conn.sync()
        self._busy.pop(seg_id, None)
        return False

    def _take(self, event: rq.Event) -> bool:
        if event.type != self.completion_type:
            return False
        self._busy.pop(int(event.shmseg), None)
        return True


def shm_for(conn: Connection) -> Shm | None:
    """MIT-SHM on ``conn`` if it can be used there (asked once per connection), else None."""
    return conn.helper(_EXTENSION, lambda: _open(conn))


def _open(conn: Connection) -> Shm | None:
    if os.environ.get(NO_SHM_ENV, "") not in ("", "0"):
        return None
    display = conn.display.display
    if display.socket.family != socket.AF_UNIX:
        return None  # the server could not map our memory
    native = X.LSBFirst if sys.byteorder == "little" else X.MSBFirst
    if display.info.image_byte_order != native:
        return None  # shared pixels cannot be byte-swapped on the way
    with conn.guard():
        info = conn.display.query_extension(_EXTENSION)
        if info is None or not info.present:
            return None
        try:
            _QueryVersion(display=display, opcode=info.major_opcode)
        except xerror.XError:
            return None
    return Shm(conn, info.major_opcode, info.first_event)
