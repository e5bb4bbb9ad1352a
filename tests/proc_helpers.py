"""Real processes for the engine's tests: trees, threads, zombies, exec, pid reuse.

The model is psutil's test toolkit: every process a test starts is registered
and killed in teardown (:func:`reap_children` kills whole process groups), and
every wait polls against a deadline.

The processes are *nodes*: small Python programs that connect to the test's
:class:`Controller` over a Unix socket, say ``hello PID`` and then obey one
command per line, answering ``ok ...`` or ``err ...``.  A node forks other nodes
(from its main thread or from another one), starts and stops threads, execs,
leaves zombies, spins, writes files and forks children at a chosen pid, so a
test can build any tree and change it between two samples.  Run as a script::

    python proc_helpers.py node SOCKET [WORDS...]   # one node (WORDS end up in its argv)
    python proc_helpers.py sample PID [--nofile N] [--count N]

The second form samples the tree under PID with a fresh ``Vmon`` and prints it
as JSON (for samplers that run as another user or with fewer fds).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from polling import wait_for

if TYPE_CHECKING:
    from vwm_overlay.vmon import Task, Vmon

T = TypeVar("T")

HERE = os.path.dirname(os.path.abspath(__file__))
HELPERS = os.path.abspath(__file__)
DATA_PROC = os.path.join(HERE, "data", "proc")

#: Bounds for one command to a node and for a node to connect.
COMMAND_TIMEOUT_S = 10.0

#: Every process group a test started (the leader's Popen), newest last.
_started: list[subprocess.Popen[bytes]] = []


def sample_until(vmon: Vmon, predicate: Callable[[], T], timeout_s: float = 20.0, what: str = "a condition") -> T:
    """Sample until ``predicate`` (checked after each sample) returns something true."""

    def sampled() -> T:
        vmon.sample()
        return predicate()

    return wait_for(sampled, timeout_s, what)


def tasks_by_pid(root: Task) -> dict[int, Task]:
    """Every process in the tree under ``root`` (threads left out), stale ones included."""
    from vwm_overlay.vmon import iter_tree

    return {task.pid: task for task, _ in iter_tree(root) if not task.is_thread}


def current(record: T) -> T:
    """``record`` (a task, a stat) itself.  Read fields through it after a sample: a type checker
    would otherwise carry what an assert before the sample narrowed them to."""
    return record


def pid_exists(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}")


def cpu_clock_s(pid: int) -> float:
    """The CPU time process ``pid`` has used, in seconds, from its CPU-time
    clock (nanoseconds, not ticks): a reference independent of /proc."""
    # MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED) in include/linux/posix-timers.h
    return time.clock_gettime((~pid << 3) | 2)


def proc_stat_fields(pid: int) -> list[str]:
    """``/proc/PID/stat`` split after comm: index 0 is the state (field 3)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    return data[data.rfind(b")") + 2 :].decode().split()


def spawn(argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start ``argv`` as the leader of a new process group, registered for :func:`reap_children`."""
    proc = subprocess.Popen(argv, start_new_session=True, **kwargs)
    _started.append(proc)
    return proc


def reap_children(timeout_s: float = 5.0) -> None:
    """Kill every process group started by :func:`spawn`, newest first, and wait for the leaders.

    Killing the group takes the forked descendants too, including those
    reparented away (they keep the group); init reaps those.
    """
    while _started:
        proc = _started.pop()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            pass
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                break
        except ChildProcessError:
            break


# -- line channel ------------------------------------------------------------------------


class Channel:
    """Lines over a connected stream socket, with a deadline on every read."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buf = b""

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\n")

    def recv(self, timeout_s: float | None = None) -> str | None:
        """The next line; None at EOF.  Raises TimeoutError at the deadline."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while b"\n" not in self._buf:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no line before the deadline")
                self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(4096)
            except TimeoutError:
                raise TimeoutError("no line before the deadline") from None
            if not chunk:
                return None
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode()

    def ready(self) -> bool:
        """Whether a line (or EOF) can be read without waiting."""
        return b"\n" in self._buf or bool(select.select([self.sock], [], [], 0)[0])

    def close(self) -> None:
        self.sock.close()


# -- the test's side -----------------------------------------------------------------------


class Node:
    """A node process, driven over its connection."""

    def __init__(self, controller: Controller, pid: int, channel: Channel) -> None:
        self.controller = controller
        self.pid = pid
        self.channel = channel

    def __repr__(self) -> str:
        return f"<Node {self.pid}>"

    def send(self, *words: object) -> None:
        """Send a command without waiting for its answer (see :meth:`reply`)."""
        self.channel.send(" ".join(str(w) for w in words))

    def reply(self, timeout_s: float = COMMAND_TIMEOUT_S) -> list[str]:
        line = self.channel.recv(timeout_s)
        if line is None:
            raise AssertionError(f"node {self.pid} hung up")
        status, _, rest = line.partition(" ")
        if status != "ok":
            raise AssertionError(f"node {self.pid}: {line}")
        return rest.split()

    def answered(self) -> bool:
        """Whether the answer to the command sent is there (see :meth:`send`)."""
        return self.channel.ready()

    def request(self, *words: object, timeout_s: float = COMMAND_TIMEOUT_S) -> list[str]:
        self.send(*words)
        return self.reply(timeout_s)

    # Commands; each returns once the node has done it.

    def fork(self) -> Node:
        """A child node forked from the main thread."""
        return self.controller.wait_node(int(self.request("fork")[0]))

    def fork_from_thread(self) -> Node:
        """A child node forked from a new thread, which then stays alive (blocked)."""
        return self.controller.wait_node(int(self.request("fork_thread")[0]))

    def pipe_fork(self) -> tuple[Node, int]:
        """A child node that keeps the write end of a pipe whose read end we keep: (child, pipe inode)."""
        pid, inode = self.request("pipe_fork")
        return self.controller.wait_node(int(pid)), int(inode)

    def close_pipes(self) -> None:
        self.request("close_pipes")

    def start_threads(self, count: int) -> list[int]:
        """Start ``count`` threads that block until :meth:`stop_threads`; returns their tids."""
        return [int(w) for w in self.request("threads", count)]

    def start_threads_at(self, first_tid: int, count: int) -> list[int]:
        """:meth:`start_threads`, numbering the threads from ``first_tid`` when it is free."""
        return [int(w) for w in self.request("threads_at", first_tid, count)]

    def stop_threads(self) -> None:
        self.request("stop_threads")

    def exec_node(self, *words: str) -> Node:
        """Exec a fresh node with ``words`` added to its argv (same pid, new connection)."""
        self.request("exec", sys.executable, sys.executable, HELPERS, "node", self.controller.path, *words)
        self.channel.close()
        node = self.controller.wait_node(self.pid)
        self.channel = node.channel
        return self

    def exec(self, path: str, *argv: str) -> None:
        """Exec ``path`` with ``argv``; the node is no longer driven."""
        self.request("exec", path, *argv)
        self.channel.close()

    def spin(self) -> int:
        """Fork a child that spins on the CPU until killed; its pid."""
        return int(self.request("spin")[0])

    def sleepers(self, count: int) -> list[int]:
        """Fork ``count`` children that sleep until killed; their pids."""
        return [int(w) for w in self.request("sleepers", count)]

    def zombie(self) -> int:
        """Fork a child that exits at once and is left unreaped; its pid."""
        return int(self.request("zombie")[0])

    def reap(self, pid: int) -> None:
        self.request("reap", pid)

    def kill_child(self, pid: int) -> None:
        """SIGKILL a child and reap it."""
        self.request("kill", pid)

    def exit(self) -> None:
        """Exit at once; the parent does not reap us (a zombie until it does)."""
        self.request("exit")
        self.channel.close()

    def write_file(self, path: str, nbytes: int) -> None:
        """Write ``nbytes`` to ``path`` and fsync it."""
        self.request("write", path, nbytes, timeout_s=30)

    def fork_at(self, pid: int) -> int:
        """Fork a sleeping child with pid ``pid`` (through ns_last_pid); its pid,
        or -1 when other processes forking all the while kept taking it."""
        return int(self.request("fork_at", pid)[0])

    def setuid(self, uid: int, gid: int) -> None:
        """Drop to ``uid``/``gid`` and stay dumpable (so that user may read our /proc files)."""
        self.request("setuid", uid, gid)


class Controller:
    """The test's end: a listening Unix socket every node connects to."""

    def __init__(self) -> None:
        # A short path: Unix socket paths are limited to about 108 bytes.
        self._dir = tempfile.mkdtemp(prefix="vmon-")
        self.path = os.path.join(self._dir, "nodes")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(256)
        self._waiting: dict[int, Channel] = {}
        self.nodes: list[Node] = []

    def spawn_node(self, *words: str) -> Node:
        """A new top-level node (its own process group), registered for cleanup."""
        proc = spawn([sys.executable, HELPERS, "node", self.path, *words], stdin=subprocess.DEVNULL)
        return self.wait_node(proc.pid)

    def wait_node(self, pid: int, timeout_s: float = COMMAND_TIMEOUT_S) -> Node:
        """The node ``pid`` once it has connected."""
        deadline = time.monotonic() + timeout_s
        while pid not in self._waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"node {pid} never connected")
            self.sock.settimeout(left)
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            channel = Channel(conn)
            hello = channel.recv(left)
            if hello is None or not hello.startswith("hello "):
                channel.close()
                continue
            self._waiting[int(hello.split()[1])] = channel
        node = Node(self, pid, self._waiting.pop(pid))
        self.nodes.append(node)
        return node

    def node(self, pid: int) -> Node:
        """The node ``pid``, connected earlier."""
        return next(node for node in self.nodes if node.pid == pid)

    def close(self) -> None:
        for node in self.nodes:
            node.channel.close()
        for channel in self._waiting.values():
            channel.close()
        self.sock.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
            os.rmdir(self._dir)

    def __enter__(self) -> Controller:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def spawn_tree(controller: Controller, depth: int, fanout: int) -> tuple[Node, dict[int, int]]:
    """A tree of nodes ``depth`` levels below its root, ``fanout`` children each.

    Returns the root and ``{pid: parent pid}`` for every node below it.
    """
    root = controller.spawn_node()
    parents: dict[int, int] = {}
    level = [root]
    for _ in range(depth):
        below = []
        for node in level:
            for _ in range(fanout):
                child = node.fork()
                parents[child.pid] = node.pid
                below.append(child)
        level = below
    return root, parents


@contextlib.contextmanager
def nodes() -> Iterator[Controller]:
    """A controller whose processes are all reaped on exit."""
    controller = Controller()
    try:
        yield controller
    finally:
        reap_children()
        controller.close()


# -- the node's side -----------------------------------------------------------------------


class _NodeServer:
    def __init__(self, path: str) -> None:
        self.path = path
        self.channel = self._connect()
        self.stop = threading.Event()
        self.forever = threading.Event()
        self.threads: list[threading.Thread] = []
        self.pipe_fds: list[int] = []

    def _connect(self) -> Channel:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(self.path)
        channel = Channel(sock)
        channel.send(f"hello {os.getpid()}")
        return channel

    def serve(self) -> None:
        while True:
            line = self.channel.recv()
            if line is None:
                os._exit(0)  # the test went away
            words = line.split()
            try:
                answer = getattr(self, "do_" + words[0])(*words[1:])
            except Exception as err:
                self.channel.send(f"err {type(err).__name__}: {err}".replace("\n", " "))
            else:
                self.channel.send("ok " + " ".join(str(w) for w in answer))

    def _fork_node(self, before_serve: Callable[[], None] | None = None) -> int:
        pid = os.fork()
        if pid == 0:
            try:
                self.channel.close()
                self.threads = []
                self.pipe_fds = []
                if before_serve is not None:
                    before_serve()
                self.channel = self._connect()  # the test may look at us from now on
                self.serve()
            finally:
                os._exit(0)
        return pid

    def do_fork(self) -> list[int]:
        return [self._fork_node()]

    def do_fork_thread(self) -> list[int]:
        pids: list[int] = []

        def run() -> None:
            pids.append(self._fork_node())
            self.forever.wait()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        while not pids:
            time.sleep(0.001)
        return pids

    def do_pipe_fork(self) -> list[int]:
        read_fd, write_fd = os.pipe()
        inode = os.fstat(read_fd).st_ino

        def keep_write_end() -> None:
            os.close(read_fd)
            self.pipe_fds = [write_fd]

        pid = self._fork_node(keep_write_end)
        os.close(write_fd)
        self.pipe_fds.append(read_fd)
        return [pid, inode]

    def do_close_pipes(self) -> list[int]:
        for fd in self.pipe_fds:
            os.close(fd)
        self.pipe_fds = []
        return []

    def do_threads(self, count: str) -> list[int]:
        tids: list[int] = []
        started = threading.Semaphore(0)

        def run() -> None:
            tids.append(threading.get_native_id())
            started.release()
            self.stop.wait()

        for _ in range(int(count)):
            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            self.threads.append(thread)
            started.acquire()
        return tids

    def do_stop_threads(self) -> list[int]:
        self.stop.set()
        for thread in self.threads:
            thread.join()
        self.threads = []
        self.stop = threading.Event()
        return []

    def do_exec(self, path: str, *argv: str) -> list[int]:
        self.channel.send("ok")
        os.execv(path, list(argv))

    def do_spin(self) -> list[int]:
        pid = os.fork()
        if pid == 0:
            while True:
                pass
        return [pid]

    def do_sleepers(self, count: str) -> list[int]:
        pids = []
        for _ in range(int(count)):
            pid = os.fork()
            if pid == 0:
                while True:
                    signal.pause()
            pids.append(pid)
        return pids

    def do_zombie(self) -> list[int]:
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        return [pid]

    def do_reap(self, pid: str) -> list[int]:
        return [os.waitpid(int(pid), 0)[1]]

    def do_kill(self, pid: str) -> list[int]:
        os.kill(int(pid), signal.SIGKILL)
        return [os.waitpid(int(pid), 0)[1]]

    def do_exit(self) -> list[int]:
        self.channel.send("ok")
        os._exit(0)

    def do_write(self, path: str, nbytes: str) -> list[int]:
        chunk = b"x" * (1 << 20)
        left = int(nbytes)
        with open(path, "wb") as f:
            while left > 0:
                left -= f.write(chunk[:left])
            f.flush()
            os.fsync(f.fileno())
        return []

    def do_churn(self, total: str, batch: str, live_ms: str) -> list[int]:
        """Fork ``total`` children, ``batch`` at a time, each living ``live_ms``."""
        done = 0
        while done < int(total):
            pids = []
            for _ in range(min(int(batch), int(total) - done)):
                pid = os.fork()
                if pid == 0:
                    time.sleep(int(live_ms) / 1000)
                    os._exit(0)
                pids.append(pid)
            for pid in pids:
                os.waitpid(pid, 0)
            done += len(pids)
        return [done]

    def do_busy_children(self, count: str, spin_ms: str) -> list[int]:
        """Run ``count`` children one after the other, each spinning ``spin_ms`` of CPU time."""
        for _ in range(int(count)):
            pid = os.fork()
            if pid == 0:
                end = time.process_time() + int(spin_ms) / 1000
                while time.process_time() < end:
                    pass
                os._exit(0)
            os.waitpid(pid, 0)
        return []

    def do_fork_at(self, want: str) -> list[int]:
        # ns_last_pid is the last pid handed out: the next fork gets the one after
        # it, unless something else on the machine forks in between (then retry).
        target = int(want)
        for _ in range(200):
            if os.path.exists(f"/proc/{target}"):
                return [-1]  # somebody else has it now
            with open("/proc/sys/kernel/ns_last_pid", "w") as f:
                f.write(str(target - 1))
            pid = os.fork()
            if pid == 0:
                while True:
                    signal.pause()
            if pid == target:
                return [pid]
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        return [-1]

    def do_threads_at(self, first: str, count: str) -> list[int]:
        """Start ``count`` threads, the first with tid ``first`` if it is free (ns_last_pid)."""
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(int(first) - 1))
        return self.do_threads(count)

    def do_setuid(self, uid: str, gid: str) -> list[int]:
        os.setgroups([])
        os.setresgid(int(gid), int(gid), int(gid))
        os.setresuid(int(uid), int(uid), int(uid))
        pr_set_dumpable = 4
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_dumpable, 1, 0, 0, 0)
        return []


# -- the sampler ------------------------------------------------------------------------------


def _sample_main(pid: int, nofile: int | None, count: int) -> int:
    """Sample the tree under ``pid`` ``count`` times; print it as JSON."""
    import resource

    if nofile is not None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    from vwm_overlay.vmon import Vmon, iter_tree

    with Vmon() as vmon:
        root = vmon.monitor(pid)
        for _ in range(count):
            vmon.sample()
        tasks = [
            {
                "pid": task.pid,
                "parent": task.parent.pid if task.parent is not None else None,
                "is_thread": task.is_thread,
                "state": task.stat.state if task.stat is not None else None,
                "exe": task.stat.exe if task.stat is not None else None,
                "utime_ticks": task.stat.utime_ticks if task.stat is not None else None,
                "unavailable": int(task.unavailable),
                "io": task.io is not None,
                "is_stale": task.is_stale,
            }
            for task, _ in iter_tree(root)
        ]
        out_of_fds = vmon.procfs.out_of_fds
    json.dump({"tasks": tasks, "uid": os.getuid(), "out_of_fds": out_of_fds}, sys.stdout)
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["node"]:
        server = _NodeServer(argv[1])
        server.serve()
        return 0
    parser = argparse.ArgumentParser(prog="proc_helpers.py sample")
    parser.add_argument("pid", type=int)
    parser.add_argument("--nofile", type=int)
    parser.add_argument("--count", type=int, default=3)
    args = parser.parse_args(argv[1:])
    return _sample_main(args.pid, args.nofile, args.count)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
