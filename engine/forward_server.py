"""The model's own process: ``python -m engine.forward_server``, started by
`engine.forward_process`. It imports torch at once, then answers requests until stdin closes.

Requests (see `engine.forward_protocol`):
- ``{"op": "load", "model": id, "path", "device", "half"}`` -> ``{"ok": true, "config_text",
  "device", "half"}``
- every request also carries ``"keep"``: the model ids the window still holds; others are freed
- ``{"op": "forward", "model": id}`` + one (B, 3, H, W) float32 array -> ``{"ok": true, "heads": bool}`` +
  the normalised output (one prediction array, or the raw anchor heads when ``heads``)
- any failure -> ``{"ok": false, "kind": <exception class>, "message": <text>}``
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def serve(requests, replies, arenas=None) -> int:
    """`arenas`: (from the window, to the window) `engine.shared_arena.Arena`s, or None when
    arrays travel in the messages."""
    from .forward_protocol import read_message, write_message
    from .errors import ModelLoadError, ModelRunError, ScriptLensError

    def reply(header: dict, arrays=()) -> None:
        if arenas is not None and arrays:
            header, arrays = dict(header, shm=arenas[1].write(arrays)), ()
        write_message(replies, header, arrays)

    try:
        from .backend import TorchScriptBackend
        from .decode import normalize_output
        import_error = None
    except Exception as exc:  # torch missing or broken: say so on every request
        import_error = f"PyTorch cannot be imported ({type(exc).__name__}: {exc}); reinstall torch"

    models: dict[int, object] = {}  # id -> TorchScriptBackend, for the ids the window still uses
    while True:
        message = read_message(requests)
        if message is None:
            return 0  # the window closed the pipe: it is gone or done with us
        header, arrays = message
        try:
            if "shm" in header:  # views: the model reads the window's buffer without a copy
                arrays = arenas[0].read(header.pop("shm"), copy=False)
            if import_error:
                raise ModelLoadError(import_error)
            keep = set(header.get("keep", ()))
            models = {k: v for k, v in models.items() if k in keep}  # free what the window dropped
            if header.get("op") == "load":
                backend = TorchScriptBackend.load(Path(header["path"]), device=header["device"], half=header["half"])
                models[int(header["model"])] = backend
                reply({"ok": True, "config_text": backend.config_text, "device": backend.device, "half": backend.half})
            elif header.get("op") == "forward":
                backend = models.get(int(header.get("model", -1)))
                if backend is None:
                    raise ModelRunError("this model is no longer loaded in the model process (it was restarted): open the model again")
                pred = normalize_output(backend.forward(arrays[0]))
                heads = isinstance(pred, list)
                reply({"ok": True, "heads": heads}, pred if heads else [pred])
            else:
                raise ModelRunError(f"unknown request {header.get('op')!r}")
        except ScriptLensError as exc:
            reply({"ok": False, "kind": type(exc).__name__, "message": str(exc)})
        except Exception as exc:  # torch raises many types from inside a graph: pass the text on
            reply({"ok": False, "kind": "RuntimeError", "message": str(exc) or type(exc).__name__})


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    arenas = None
    if len(argv) == 2 and argv[0] == "--arenas":  # descriptors inherited from the window (pass_fds)
        from .shared_arena import Arena

        arenas = tuple(Arena(int(fd)) for fd in argv[1].split(","))
    # The protocol owns the original stdout; anything torch or a model prints (TorchScript's
    # print() writes to fd 1) is sent to stderr instead of corrupting the reply stream.
    replies = os.fdopen(os.dup(1), "wb")
    try:
        os.dup2(2, 1)
    except OSError:  # no stderr (a windowless launcher): what the model prints is dropped
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    requests = sys.stdin.buffer
    try:
        return serve(requests, replies, arenas)
    except (BrokenPipeError, EOFError):
        return 0  # the window went away mid-message


if __name__ == "__main__":
    sys.exit(main())
