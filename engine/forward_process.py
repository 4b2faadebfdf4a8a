"""Run the model in a child process (`engine.forward_server`) instead of the window's process.

Why: ``import torch`` takes ~2 s on the reference 2-core machine. In the window's process it
can only start once the window is up (doing it in a thread at start-up was measured slower:
both fight for the GIL), so first detections waited for window + torch. Started as a child
before the window's own imports, torch loads on the other core while the window builds, and
first detections come ~1 s sooner. It also means a model that crashes PyTorch (a segfault in
a custom op, an abort) ends the child, not the window with the user's unsaved edits: the
next load starts a fresh child.

`RemoteBackend` has `TorchScriptBackend`'s interface (``forward``, ``config_text``,
``device``, ``half``), so `engine.pipeline.Detector` runs unchanged on either. The CLI keeps
torch in-process: it has no window to overlap with, and its thread pool wants the model local.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import itertools
import threading
import time
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ModelLoadError, ModelRunError, UnsupportedOutputError

if TYPE_CHECKING:
    import numpy as np
# numpy and the protocol are imported on first use: `prestart()` runs before any other import
# of the app, and every 100 ms it waits is 100 ms later for the first detections.

log = logging.getLogger(__name__)

PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # the folder that holds `engine/`
_ERRORS = {"ModelLoadError": ModelLoadError, "ModelRunError": ModelRunError, "UnsupportedOutputError": UnsupportedOutputError}


class ProcessGone(Exception):
    """The model process is not running (it crashed, was killed, or never started).
    `interrupted`: killed on purpose by `ForwardProcess.interrupt`."""

    def __init__(self, returncode: int | None, interrupted: bool = False) -> None:
        self.returncode = returncode
        self.interrupted = interrupted
        super().__init__(describe_exit(returncode))


class RemoteModelError(RuntimeError):
    """An error torch raised in the model process; the text is torch's, unchanged."""


def describe_exit(code: int | None) -> str:
    if code is None:
        return "it did not answer"
    if code < 0:
        try:
            import signal

            return f"killed by {signal.Signals(-code).name}"
        except (ValueError, AttributeError):
            return f"killed by signal {-code}"
    return f"exit status {code}"


def anonymous_fd() -> int:
    """An anonymous, growable file for an `engine.shared_arena.Arena` (created here, before
    numpy is imported, so `prestart` stays quick). The caller owns the descriptor."""
    if hasattr(os, "memfd_create"):
        return os.memfd_create("scriptlens-arena", os.MFD_CLOEXEC)
    import tempfile

    with tempfile.TemporaryFile() as f:  # already unlinked on POSIX
        return os.dup(f.fileno())


class ForwardProcess:
    """One model process; requests from several threads are serialised by a lock.

    `shared_memory`: big arrays cross through `engine.shared_arena` (POSIX), else inside the
    pipe messages (Windows, or when turned off)."""

    def __init__(self, shared_memory: bool = True) -> None:
        self.shared_memory = shared_memory and os.name == "posix"
        self._arena_fds: tuple[int, int] | None = None
        self._arenas = None  # (to the child, from the child), made on first use
        self._proc: subprocess.Popen | None = None
        self._last_exit: int | None = None  # how the previous child ended, for the messages
        self._busy_since: float | None = None  # monotonic time the request in flight was sent
        self._interrupted = False
        self._model_ids = itertools.count(1)
        # id -> RemoteBackend still referenced here: every request tells the child to keep
        # only these, so a model the window dropped is freed there too, and a model that failed
        # to load never costs the one still in use
        self._live: weakref.WeakValueDictionary[int, RemoteBackend] = weakref.WeakValueDictionary()
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def uses_shared_memory(self) -> bool:
        """True when the running child got arenas (False: arrays go in the pipe messages)."""
        return self._arena_fds is not None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, lazy_torch: bool = False) -> None:
        """Start the child unless it runs already. It begins importing torch at once, unless
        `lazy_torch` (the first model is expected to open from a cached ONNX conversion)."""
        with self._lock:
            if self.is_running():
                return
            self._close_arenas()  # a restart gets fresh ones: the old child may have died mid-write
            self._interrupted = False
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH")]))
            cmd = [sys.executable, "-m", "engine.forward_server"] + (["--lazy-torch"] if lazy_torch else [])
            if self.shared_memory:
                try:
                    self._arena_fds = (anonymous_fd(), anonymous_fd())
                    cmd += ["--arenas", "%d,%d" % self._arena_fds]
                except OSError as exc:
                    log.info("no shared memory for the model process (%s): arrays go through the pipe", exc)
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=str(PACKAGE_ROOT),
                pass_fds=self._arena_fds or (),
            )
            log.info("model process %d started", self._proc.pid)

    def request(self, header: dict, arrays=()) -> "tuple[dict, list[np.ndarray]]":
        from .forward_protocol import ProtocolError, read_message, write_message

        with self._lock:
            proc = self._proc
            if proc is None or proc.poll() is not None:
                raise ProcessGone(proc.returncode if proc is not None else self._last_exit, self._interrupted)
            self._busy_since = time.monotonic()
            header = dict(header, keep=sorted(self._live.keys()))
            try:
                arenas = self._shared_arenas()
                if arenas is not None and arrays:
                    header, arrays = dict(header, shm=arenas[0].write(arrays)), ()
                write_message(proc.stdin, header, arrays)
                reply = read_message(proc.stdout)
                if reply is not None and "shm" in reply[0]:
                    if arenas is None:
                        raise ProtocolError("shared-memory reply without shared memory")
                    reply = reply[0], arenas[1].read(reply[0].pop("shm"), copy=True)
            except (OSError, EOFError, ProtocolError) as exc:
                if not self._interrupted:
                    log.warning("model process %d: %s", proc.pid, exc)
                reply = None
            finally:
                self._busy_since = None
            if reply is None:
                self._reap(proc)
                raise ProcessGone(proc.returncode, self._interrupted)
            return reply

    def busy_for(self) -> float:
        """Seconds the request in flight has run (0 when idle)."""
        since = self._busy_since
        return time.monotonic() - since if since is not None else 0.0

    def interrupt(self) -> bool:
        """Kill the child if a request is in flight: a model stuck on an image (or one far too
        slow for this machine) otherwise holds the engine until it returns, if ever. That
        request fails with `ProcessGone(interrupted=True)`; the next load starts a fresh child.
        Not under the lock: the stuck request holds it."""
        proc = self._proc
        if proc is None or self._busy_since is None or proc.poll() is not None:
            return False
        seconds = self.busy_for()
        self._interrupted = True
        proc.kill()
        log.info("model process %d stopped after %.1f s on one request", proc.pid, seconds)
        return True

    def _shared_arenas(self):
        if self._arenas is None and self._arena_fds is not None:
            from .shared_arena import Arena

            self._arenas = (Arena(self._arena_fds[0]), Arena(self._arena_fds[1]))
        return self._arenas

    def _close_arenas(self) -> None:
        if self._arenas is not None:
            for arena in self._arenas:
                arena.close()  # closes the descriptor too
        elif self._arena_fds is not None:
            for fd in self._arena_fds:
                os.close(fd)
        self._arenas = self._arena_fds = None

    def _reap(self, proc: subprocess.Popen) -> None:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # alive but speaking garbage: end it
            proc.kill()
            proc.wait()
        self._proc, self._last_exit = None, proc.returncode

    def close(self, timeout: float = 2.0) -> None:
        """End the child: closing its stdin makes it exit; kill it if it does not."""
        with self._lock:
            proc, self._proc = self._proc, None
            self._close_arenas()
        if proc is None:
            return
        try:
            proc.stdin.close()
            proc.wait(timeout=timeout)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        finally:
            proc.stdout.close()

    # ---- `engine.model_host.ModelHost`: where `engine.model_loader` opens models --------------
    def open_backend(self, path: Path, fmt: str = "torchscript", device: str = "auto", half: bool = False) -> "RemoteBackend":
        """Open `path` in the child (`engine.model_host.open_backend` there)."""
        return self._open({"op": "load", "path": str(Path(path).resolve()), "fmt": fmt, "device": device,
                           "half": bool(half)}, path)

    def open_cached(self, path: Path, input_hw: tuple[int, int], batch: int) -> "tuple[RemoteBackend, str] | None":
        """A verified cached ONNX conversion opened in the child, which then needs no torch."""
        backend = self._open({"op": "load_cached", "path": str(Path(path).resolve()), "input_hw": list(input_hw),
                              "batch": int(batch)}, path)
        return (backend, backend.reason) if backend is not None else None

    def choose_backend(self, backend: "RemoteBackend", path: Path, input_hw: tuple[int, int], batch: int,
                       mode: str) -> "tuple[RemoteBackend, str, str]":
        """`engine.onnx_backend.choose_backend` in the child, on the model it holds."""
        try:
            reply, _ = self.request({"op": "choose", "model": backend.model_id, "path": str(Path(path).resolve()),
                                     "input_hw": list(input_hw), "batch": int(batch), "mode": mode})
        except ProcessGone as exc:
            raise self._load_failure(path, exc) from None
        _raise_if_failed(reply)
        backend.update(reply)
        return backend, reply["kind"], reply["reason"]

    def load_backend(self, path: Path, device: str = "auto", half: bool = False) -> "RemoteBackend":
        """A TorchScript file opened in the child (kept for tools that time that step)."""
        return self.open_backend(path, "torchscript", device, half)

    def _open(self, header: dict, path: Path) -> "RemoteBackend | None":
        self.start()  # again after a crash
        model_id = next(self._model_ids)
        try:
            reply, _ = self.request(dict(header, model=model_id))
        except ProcessGone as exc:
            raise self._load_failure(path, exc) from None
        _raise_if_failed(reply)
        if reply.get("found") is False:
            return None
        backend = RemoteBackend(self, model_id, reply)
        self._live[model_id] = backend
        return backend

    @staticmethod
    def _load_failure(path: Path, exc: ProcessGone) -> ModelLoadError:
        if exc.interrupted:
            return ModelLoadError(f"{path}: loading was interrupted")
        return ModelLoadError(
            f"{path}: the model process stopped while loading this file ({exc}); the file may crash PyTorch. "
            "Your work in the window is unaffected: open another model, or this one again")


class RemoteBackend:
    """`TorchScriptBackend`'s interface, answered by the model process."""

    def __init__(self, process: ForwardProcess, model_id: int, reply: dict) -> None:
        self.process = process
        self.model_id = model_id
        self.update(reply)

    def update(self, reply: dict) -> None:
        """What the child said about the backend it holds (after a load or a choice)."""
        self.device = reply["device"]
        self.half = bool(reply["half"])
        self.config_text = reply["config_text"]
        self.kind = reply.get("kind", "torchscript")
        self.reason = reply.get("reason", "")
        hw = reply.get("static_input_hw")
        self.static_input_hw = (int(hw[0]), int(hw[1])) if hw else None
        self.static_batch = reply.get("static_batch")

    def forward(self, batch: "np.ndarray") -> "np.ndarray | list[np.ndarray]":
        """The model's normalised output (see `engine.decode.normalize_output`)."""
        import numpy as np

        try:
            reply, arrays = self.process.request({"op": "forward", "model": self.model_id}, [np.asarray(batch, np.float32)])
        except ProcessGone as exc:
            if exc.interrupted:
                raise ModelRunError("stopped: the model was still running this image when it was interrupted") from None
            raise ModelRunError(
                f"the model process stopped ({exc}): this model crashes PyTorch on some inputs. Open the model again to continue"
            ) from None
        _raise_if_failed(reply)
        return arrays if reply.get("heads") else arrays[0]

    @contextmanager
    def intra_op_threads(self, n: int):
        """No-op: the model process keeps torch's own thread count (the GUI runs one image at a time)."""
        yield


def _raise_if_failed(reply: dict) -> None:
    if reply.get("ok"):
        return
    message = str(reply.get("message", "the model process failed"))
    raise _ERRORS.get(reply.get("kind"), RemoteModelError)(message)


_shared: ForwardProcess | None = None


def prestart(expect: Path | str | None = None, backend_mode: str = "auto") -> ForwardProcess | None:
    """Start the shared model process as early as possible (before Qt's imports).

    `expect`: the model the window will open first, when known (`--model`, the demo). If it
    opens without torch (`needs_no_torch`: an ONNX file, or a cached verified conversion), the
    child does not import torch unless asked (`engine.forward_server`'s ``--lazy-torch``):
    first detections then need no torch at all. None where a child cannot be started (no
    interpreter to run it with, or the start failed): callers then load models in-process.
    """
    global _shared
    if _shared is None:
        if not sys.executable:  # a frozen app starts itself (cli/frozen.py answers `-m engine.forward_server`)
            return None
        process = ForwardProcess()
        try:
            process.start(lazy_torch=expect is not None and needs_no_torch(Path(expect), backend_mode))
        except OSError as exc:
            log.warning("cannot start the model process (%s); loading models in the window's process", exc)
            return None
        _shared = process
    return _shared


def needs_no_torch(model: Path, backend_mode: str) -> bool:
    """Will `engine.model_loader` open `model` without torch: an ONNX file, or a TorchScript file
    with a verified cached ONNX conversion that ``backend_mode`` lets it use? Cheap: reads the
    file's first bytes, hashes it, reads the cache's records. (Then the model process need not
    import torch.)"""
    if not model.is_file():
        return False
    try:
        from .model_file import ONNX, TORCHSCRIPT, model_format
        from .model_loader import cpu_is_the_device
        from .onnx_cache import cached_sizes

        fmt = model_format(model)
        if fmt == ONNX:
            return True
        return fmt == TORCHSCRIPT and backend_mode != "torchscript" and cpu_is_the_device("auto") and bool(cached_sizes(model))
    except Exception as exc:  # a file we cannot read is the loader's to report; never a reason not to start
        log.info("cannot tell whether %s needs torch (%s)", model, exc)
        return False
