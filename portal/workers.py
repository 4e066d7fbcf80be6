"""Work that holds the processor for long, done in a few processes of its own, never in the
process that serves pages: decoding pictures (:mod:`portal.domain.images`) and parsing feeds
(:mod:`portal.domain.feeds.parse`). A thread would not do: such work holds Python's lock of
the interpreter nearly all the time, and every request would wait on it meanwhile.

The processes are forked from a fork server (:func:`_forkserver`), start with the first task,
are replaced every ``tasks_per_worker`` tasks (which returns to the system the memory the
largest task left in the heap), run at a lower priority than the web process, and stop with
:meth:`Workers.close`. A process that dies (out of memory, killed) fails its task with
:class:`WorkerDied`, and the next task starts fresh processes.
"""

from __future__ import annotations

import ast
import asyncio
import concurrent.futures
import contextlib
import multiprocessing
import os
import sys
import weakref
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

NICENESS = 10
PRELOADED = ("portal.domain.images", "portal.domain.feeds.parse")
"""What the fork server imports once for every worker, beside the main module's imports."""


class WorkerDied(Exception):
    """The process that ran the task died before it finished."""


class Workers:
    """``workers`` processes, shared by everything of one application that hands them work;
    tasks beyond ``workers`` wait in the pool's queue (callers bound their own)."""

    def __init__(self, *, workers: int, tasks_per_worker: int) -> None:
        self.workers = workers
        self.tasks_per_worker = tasks_per_worker
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None
        self._started_by: weakref.WeakKeyDictionary[
            concurrent.futures.Future[Any], concurrent.futures.ProcessPoolExecutor
        ] = weakref.WeakKeyDictionary()

    def submit(self, function: Callable[..., T], *args: Any) -> concurrent.futures.Future[T]:
        """Start ``function(*args)`` in a worker (a function of a module, with arguments that
        can be pickled): its future, for :meth:`wait`."""
        executor = self._pool()
        try:
            future = executor.submit(function, *args)
        except BrokenProcessPool:  # a process died since the last task
            self._discard(executor)
            executor = self._pool()
            future = executor.submit(function, *args)
        self._started_by[future] = executor
        return future

    async def start(self, function: Callable[..., T], *args: Any) -> concurrent.futures.Future[T]:
        """:meth:`submit`, from a thread: the first task starts the processes, and the first
        process waits for the fork server to import the program (seconds), which the event
        loop must not wait for (a transaction open meanwhile would hold every other writer of
        an SQLite database past its patience)."""
        return await asyncio.to_thread(self.submit, function, *args)

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in a worker, awaited; :class:`WorkerDied` when its process dies.
        A task cancelled while it runs is not stopped: its worker finishes it first."""
        return await self.wait(await self.start(function, *args))

    async def wait(self, future: concurrent.futures.Future[T]) -> T:
        """The result of a task :meth:`submit` started; :class:`WorkerDied` when its process
        dies (the processes it ran in are forgotten: the next task starts fresh ones)."""
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            self._discard(self._started_by.get(future))
            raise WorkerDied from None

    def _pool(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._executor is None:
            self._executor = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=_forkserver(),
                max_tasks_per_child=self.tasks_per_worker,
                initializer=_lower_priority,
            )
        return self._executor

    def _discard(self, executor: concurrent.futures.ProcessPoolExecutor | None) -> None:
        """Forget the broken ``executor``, unless another task already has: the one that
        replaced it may hold tasks waiting for their turn."""
        if executor is not None and self._executor is executor:
            self._executor = None
            executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the processes; a task still running is abandoned."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


def _lower_priority() -> None:
    """The work yields the processor to the web process: it may wait, a page may not."""
    with contextlib.suppress(OSError):
        os.nice(NICENESS)


def _forkserver() -> multiprocessing.context.ForkServerContext:
    """Worker processes forked from a server process that imported the program once.

    A worker process runs the program's main module again before its first task (for
    ``portal serve``, importing the whole application: about two seconds, and 70 MB of its
    own), and one starts again every ``tasks_per_worker`` tasks. The fork server is a fresh
    interpreter, without the web process's threads (the database driver's), which a child
    forked from the web process would inherit in whatever state they were. It imports what the
    main module imports, and :data:`PRELOADED`, once; each worker is forked from it, shares
    those pages, and finds them imported already.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([*_main_imports(), *PRELOADED])
    return context


def _main_imports() -> list[str]:
    """The modules a worker process imports again: the main module by its name (``python -m
    portal.cli``; not a package's ``__main__``, which is not run again), or else those that
    the main script imports (``portal``, whose ``from portal.cli import app`` is run again)."""
    main = sys.modules["__main__"]
    name = getattr(getattr(main, "__spec__", None), "name", None)
    if name:
        return [] if name.rpartition(".")[2] == "__main__" else [name]
    try:
        statements = ast.parse(Path(main.__file__ or "").read_bytes()).body
    except (AttributeError, OSError, SyntaxError, ValueError):
        return []  # no file: an interactive interpreter, ``python -c``
    return [
        alias.name for node in statements if isinstance(node, ast.Import) for alias in node.names
    ] + [
        node.module
        for node in statements
        if isinstance(node, ast.ImportFrom) and node.module and not node.level
    ]
