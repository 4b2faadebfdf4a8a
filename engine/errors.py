"""Exceptions the engine raises. Every message is written for the person using the tool:
what went wrong, with which file, and what to do about it."""

from __future__ import annotations


class ScriptLensError(Exception):
    """Base class: anything ScriptLens reports to the user as one clear line."""


class ModelLoadError(ScriptLensError):
    """The model file cannot be used (not TorchScript, wrong device, wrong input size...)."""


class UnsupportedOutputError(ScriptLensError):
    """The model ran, but its output fits none of the known detection layouts."""


class ImageReadError(ScriptLensError):
    """An image file is missing, unreadable, empty, truncated or not an image."""


class LabelWriteError(ScriptLensError):
    """A label file could not be written (read-only folder, disk full...)."""


class ModelRunError(ScriptLensError):
    """The model was loaded but failed (or returned garbage) when run on an input."""


class UsageError(ScriptLensError):
    """What the user gave cannot be used as asked: an unknown class name or id, a thresholds
    profile that is missing, not JSON or holds wrong values. The CLI exits 2 (bad usage)."""
