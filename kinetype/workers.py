"""Worker processes: the one way kinetype starts a process pool (render, shards verify, eval).

Every pool made by :func:`process_pool` keeps four promises a plain ``ProcessPoolExecutor`` does not:

- its processes end with the parent, even on ``kill -9`` (``PR_SET_PDEATHSIG`` and a watchdog
  thread), so neither they nor the resource tracker they hold open outlive a killed command;
- they never see Ctrl-C: SIGINT is blocked while a process is started and the mask is inherited
  through fork and exec, so an interrupt is the parent's alone to report (one line, no tracebacks
  of half-started workers) and the parent stops them with :func:`stop_pool`; a Ctrl-C or SIGTERM
  that arrives while one starts is held until it has started (:func:`starting_processes`);
- a pool whose processes cannot start (the interpreter exits at once, no memory, no pipes) is one
  :class:`PoolError` line from :func:`process_pool` instead of a hang or a ``BrokenProcessPool``
  traceback later: a first task is run before the pool is handed out;
- the spawn start-up never blocks on a child that died before reading what it was sent (CPython
  closes the child's end of that pipe only after writing, so a large job hung forever).
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import signal
import sys
import threading
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import context as mp_context, resource_tracker
from multiprocessing import popen_spawn_posix, reduction, spawn, util
from typing import Any, Callable

from kinetype.errors import KinetypeError

PR_SET_PDEATHSIG = 1  # linux/prctl.h
# The resource tracker, when relaunched, warns on stderr at whatever moment it is next needed (often
# at exit, after the one-line error): a pool that cannot start says so in its PoolError instead.
warnings.filterwarnings("ignore", message="resource_tracker: process died unexpectedly", category=UserWarning)
START_TIMEOUT_S = 120.0  # a first task must come back within this (imports of a cold worker included)


class PoolError(KinetypeError):
    """Worker processes that cannot be started or died at start-up."""


def die_with_parent(parent_pid: int) -> None:
    """Make this worker process end when ``parent_pid`` dies, even by kill -9 (no clean-up runs then).

    On Linux the kernel sends SIGKILL at the parent's death (``prctl(PR_SET_PDEATHSIG)``); everywhere a
    daemon thread also polls the parent pid once a second (re-parenting changes ``os.getppid()``).
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(1)
            time.sleep(1.0)

    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
    threading.Thread(target=watch, name="kinetype-parent-watchdog", daemon=True).start()


HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def starting_processes():
    """Hold Ctrl-C and SIGTERM while processes are started, and blocks them in the children.

    Blocked here, SIGINT stays blocked in a child for good (the mask survives fork and exec): the
    interrupt is the parent's alone to report. SIGTERM is unblocked again once the worker runs
    (:func:`_start_worker`), so a worker can still be terminated on its own. Blocking them in this
    thread is not enough for this process: another thread may take the signal and Python raises in
    the main thread all the same, in the middle of the start, leaving a child whose pid nobody
    holds (it then fails to read its job and prints a traceback). So a signal meanwhile is held and
    raised again once the start is complete, when the process has a pid :func:`stop_pool` can kill.
    """
    held: list[int] = []
    handlers = {s: signal.getsignal(s) for s in HELD_SIGNALS}
    hold = threading.current_thread() is threading.main_thread()
    if hold:
        for s, handler in handlers.items():
            if callable(handler):  # a Python handler: hold its signal (SIG_IGN / SIG_DFL are the OS's)
                signal.signal(s, lambda signum, frame: held.append(signum))
    old = signal.pthread_sigmask(signal.SIG_BLOCK, set(HELD_SIGNALS))
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
        if hold:
            for s, handler in handlers.items():
                if callable(handler):
                    signal.signal(s, handler)
            for s in dict.fromkeys(held):
                signal.raise_signal(s)


def _start_worker(parent_pid: int, initializer: Callable[..., None] | None, initargs: tuple) -> None:
    die_with_parent(parent_pid)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent's handler, if a fork copied it
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})  # blocked by starting_processes
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per worker: the pool is the parallelism
    if initializer is not None:
        initializer(*initargs)


def loader_worker_init(worker_id: int) -> None:
    """``worker_init_fn`` of every DataLoader kinetype makes: its worker processes end with the
    process that reads from them, even on kill -9 (torch's own check of the parent runs only every
    few seconds, between samples), and leave Ctrl-C and SIGTERM to it: a forked worker holds a copy
    of the parent's handlers, which would raise in the worker and print its traceback."""
    die_with_parent(os.getppid())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class _SpawnPopen(popen_spawn_posix.Popen):
    """CPython's spawn start-up with the child's pipe ends closed *before* the job is written: a
    child that dies at once then makes the write fail (BrokenPipeError) instead of blocking forever
    once the job is larger than a pipe's buffer."""

    def _launch(self, process_obj):
        tracker_fd = resource_tracker.getfd()
        self._fds.append(tracker_fd)
        prep_data = spawn.get_preparation_data(process_obj._name)
        fp = io.BytesIO()
        mp_context.set_spawning_popen(self)
        try:
            reduction.dump(prep_data, fp)
            reduction.dump(process_obj, fp)
        finally:
            mp_context.set_spawning_popen(None)
        parent_r = parent_w = None
        try:
            parent_r, child_w = os.pipe()
            child_r, parent_w = os.pipe()
            cmd = spawn.get_command_line(tracker_fd=tracker_fd, pipe_handle=child_r)
            try:
                self.pid = util.spawnv_passfds(spawn.get_executable(), cmd, [*self._fds, child_r, child_w])
            finally:
                os.close(child_r)
                os.close(child_w)
            self.sentinel = parent_r
            with open(parent_w, "wb", closefd=False) as f:
                f.write(fp.getbuffer())
        finally:
            self.finalizer = util.Finalize(self, util.close_fds, [fd for fd in (parent_r, parent_w) if fd is not None])


class _WorkerProcess(mp_context.SpawnProcess):
    @staticmethod
    def _Popen(process_obj):
        return _SpawnPopen(process_obj)

    def start(self) -> None:
        with starting_processes():
            super().start()


class _WorkerContext(mp_context.SpawnContext):
    """One per pool. Remembers every process it made: a Ctrl-C held back while a worker starts lands
    the moment ``start()`` returns, before the executor has recorded the worker, and
    :func:`stop_pool` must end that one too (left alive, it unpickles its job after the parent has
    removed the job's semaphores and prints a traceback of its own)."""

    def __init__(self) -> None:
        super().__init__()
        self.made: list[_WorkerProcess] = []

    def Process(self, *args, **kwargs) -> _WorkerProcess:  # noqa: N802 - multiprocessing's name
        process = _WorkerProcess(*args, **kwargs)
        self.made.append(process)
        return process


def _quiet_tracker_relaunch() -> None:
    """Start a replacement resource tracker (the first one was killed) with its stderr on /dev/null:
    it is told to forget semaphores its predecessor was told of, and prints a KeyError traceback
    for each, after the command's own output. Only the relaunch is quieted; a first start is not.
    A message to a tracker that has just died is dropped rather than raised."""
    tracker = resource_tracker._resource_tracker
    if getattr(tracker.ensure_running, "kinetype_quiet", False):
        return
    start = tracker.ensure_running

    def ensure_running() -> None:
        if tracker._fd is None or tracker._check_alive():
            return start()
        saved = os.dup(2)
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 2)
            start()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(null)

    send = tracker._send

    def _send(cmd: str, name: str, rtype: str) -> None:
        # A tracker that died between its liveness probe and this message (one whose own start-up
        # fails dies at once, every relaunch) has nothing to register or forget: the write's
        # BrokenPipeError would surface as an "Exception ignored" traceback from a semaphore's
        # finalizer at exit, after the command's one-line error.
        try:
            send(cmd, name, rtype)
        except BrokenPipeError:
            pass

    ensure_running.kinetype_quiet = True
    tracker.ensure_running = ensure_running
    tracker._send = _send


def _ping() -> int:
    return os.getpid()


MAX_WORKERS = 256  # --workers of render, shards verify and eval: past it, a typo of a core count


def check_workers(workers: int | None, option: str = "--workers") -> int | None:
    """``None`` (all cores) or 1..MAX_WORKERS, else one line naming the option."""
    if workers is not None and not 1 <= workers <= MAX_WORKERS:
        raise KinetypeError(f"{option} must be 1 to {MAX_WORKERS}, got {workers}")
    return workers


def process_pool(workers: int, initializer: Callable[..., None] | None = None, initargs: tuple = (),
                 what: str = "worker processes") -> ProcessPoolExecutor:
    """A started pool of ``workers`` spawned processes that die with this one; raises PoolError
    (naming ``what``) when they cannot start. Spawned, not forked: the parent may hold threads
    (torch, a progress bar) that a fork would copy mid-lock."""
    pool = None
    _quiet_tracker_relaunch()
    try:
        pool = ProcessPoolExecutor(workers, mp_context=_WorkerContext(), initializer=_start_worker,
                                   initargs=(os.getpid(), initializer, initargs))
        pool.submit(_ping).result(timeout=START_TIMEOUT_S)
    except BaseException as e:
        if pool is not None:
            stop_pool(pool)
        if isinstance(e, (BrokenProcessPool, OSError, TimeoutError)):
            why = (f"no answer in {START_TIMEOUT_S:.0f} s" if isinstance(e, TimeoutError) else
                   "a worker process died at start-up" if isinstance(e, BrokenProcessPool) else
                   f"{e.strerror or type(e).__name__}: a worker process or the resource tracker died at start-up")
            raise PoolError(f"{what}: cannot start {workers} worker process(es) ({why})") from None
        raise
    return pool


def stop_pool(pool: Any) -> None:
    """End a pool now: queued tasks are cancelled and running ones killed (Ctrl-C, an error, a
    failed start), rather than waited for."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    processes += [p for p in getattr(getattr(pool, "_mp_context", None), "made", ()) if p not in processes]
    for p in processes:
        try:
            p.kill()
        except (OSError, ValueError, AttributeError):  # not started, or already gone
            pass
    try:
        pool.shutdown(wait=True, cancel_futures=True)
    except Exception:  # a pool broken by the kill above is shut down all the same
        pass
    for p in processes:
        if p.pid is not None:
            p.join(timeout=5)
