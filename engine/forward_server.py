"""The model's own process: ``python -m engine.forward_server``, started by
`engine.forward_process`. Unless started with ``--lazy-torch`` it imports torch at once (so
torch loads while the window builds), then answers requests until stdin closes. With
``--lazy-torch`` (the window expects a model whose verified ONNX conversion is cached) torch is
imported only if a request needs it.

Requests (see `engine.forward_protocol`); each runs `engine.model_host`'s function of that name:
- ``{"op": "load", "model": id, "path", "fmt", "device", "half"}`` -> ``{"ok": true, "config_text",
  "device", "half", "kind", "static_input_hw", "static_batch"}``
- ``{"op": "load_cached", "model": id, "path", "input_hw", "batch"}`` -> the same plus ``"reason"``,
  or ``{"ok": true, "found": false}``
- ``{"op": "choose", "model": id, "path", "input_hw", "batch", "mode"}`` -> ``{"ok": true, "kind",
  "reason", "config_text", "device", "half"}`` (the model's backend is replaced by the chosen one)
- ``{"op": "forward", "model": id}`` + one (B, 3, H, W) float32 array -> ``{"ok": true, "heads": bool}`` +
  the normalised output (one prediction array, or the raw anchor heads when ``heads``)
- every request also carries ``"keep"``: the model ids the window still holds; others are freed
- any failure -> ``{"ok": false, "kind": <exception class>, "message": <text>}``
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def describe(backend) -> dict:
    """What the window's `RemoteBackend` needs to know about a backend."""
    return {"config_text": backend.config_text, "device": backend.device, "half": bool(backend.half),
            "kind": getattr(backend, "kind", "torchscript"),
            "static_input_hw": getattr(backend, "static_input_hw", None), "static_batch": getattr(backend, "static_batch", None)}


def serve(requests, replies, arenas=None) -> int:
    """`arenas`: (from the window, to the window) `engine.shared_arena.Arena`s, or None when
    arrays travel in the messages."""
    from . import model_host
    from .decode import normalize_output
    from .errors import ModelRunError, ScriptLensError
    from .forward_protocol import read_message, write_message

    def reply(header: dict, arrays=()) -> None:
        if arenas is not None and arrays:
            header, arrays = dict(header, shm=arenas[1].write(arrays)), ()
        write_message(replies, header, arrays)

    models: dict[int, object] = {}  # id -> backend, for the ids the window still uses
    while True:
        message = read_message(requests)
        if message is None:
            return 0  # the window closed the pipe: it is gone or done with us
        header, arrays = message
        try:
            if "shm" in header:  # views: the model reads the window's buffer without a copy
                arrays = arenas[0].read(header.pop("shm"), copy=False)
            keep = set(header.get("keep", ()))
            models = {k: v for k, v in models.items() if k in keep}  # free what the window dropped
            op, model_id = header.get("op"), int(header.get("model", -1))
            if op == "load":
                backend = model_host.open_backend(Path(header["path"]), header.get("fmt", "torchscript"),
                                                  header["device"], header["half"])
                models[model_id] = backend
                reply({"ok": True, **describe(backend)})
            elif op == "load_cached":
                found = model_host.open_cached(Path(header["path"]), tuple(header["input_hw"]), int(header["batch"]))
                if found is None:
                    reply({"ok": True, "found": False})
                else:
                    models[model_id] = found[0]
                    reply({"ok": True, "found": True, "reason": found[1], **describe(found[0])})
            elif op == "choose":
                backend = models.get(model_id)
                if backend is None:
                    raise ModelRunError("this model is no longer loaded in the model process: open the model again")
                chosen, kind, reason = model_host.choose_backend(backend, Path(header["path"]), tuple(header["input_hw"]),
                                                                 int(header["batch"]), header["mode"])
                models[model_id] = chosen
                reply({"ok": True, **describe(chosen), "kind": kind, "reason": reason})
            elif op == "forward":
                backend = models.get(model_id)
                if backend is None:
                    raise ModelRunError("this model is no longer loaded in the model process (it was restarted): open the model again")
                pred = normalize_output(backend.forward(arrays[0]))
                heads = isinstance(pred, list)
                reply({"ok": True, "heads": heads}, pred if heads else [pred])
            else:
                raise ModelRunError(f"unknown request {op!r}")
        except ScriptLensError as exc:
            reply({"ok": False, "kind": type(exc).__name__, "message": str(exc)})
        except Exception as exc:  # torch raises many types from inside a graph: pass the text on
            reply({"ok": False, "kind": "RuntimeError", "message": str(exc) or type(exc).__name__})


def preload_torch() -> None:
    """Import torch now, while the window builds (a failure shows when a model needs torch)."""
    try:
        from . import backend  # noqa: F401  (imports torch)
    except Exception:
        pass


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    lazy = "--lazy-torch" in argv
    if lazy:
        argv.remove("--lazy-torch")
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
    if not lazy:
        preload_torch()
    try:
        return serve(requests, replies, arenas)
    except (BrokenPipeError, EOFError):
        return 0  # the window went away mid-message


if __name__ == "__main__":
    sys.exit(main())
