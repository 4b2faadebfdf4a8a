"""Model loading: File ▸ Open model / Model settings, the load request and its progress, the
model-info panel, and the stuck-model interrupt and "Reload model" button when models run in a
model process.

A loaded model becomes `session.set_model(...)`; this controller's own `modelChanged` slot runs
first (it connects first) and rebuilds the class widgets before the other controllers rescore,
re-find ground truth and re-show the current image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QLabel, QProgressBar, QWidget

from engine.model_info import BACKEND_TEXT, LAYOUT_TEXT

from .candidate_cache import CandidateCache
from .feedback import Feedback
from .model_settings_dialog import ModelOverrides, ModelSettingsDialog
from .session import Session
from .settings import Settings
from .side_panel import SidePanel
from .threshold_binding import ThresholdBinding
from .threshold_panel import ThresholdPanel
from .worker import LoadModelRequest

MODEL_SUFFIXES = {".torchscript", ".pt", ".pth", ".ptl", ".jit", ".zip", ".ts", ".onnx", ".pt2"}
MODEL_FILTER = ("Models (*.torchscript *.pt *.pth *.ptl *.jit *.ts *.zip *.onnx *.pt2);;TorchScript (*.torchscript *.pt *.ts);;"
                "ONNX (*.onnx);;torch.export (*.pt2);;All files (*)")
STUCK_MODEL_S = 1.0  # opening another model stops a model process busy this long on one image


class ModelController(QObject):
    def __init__(self, session: Session, worker, cache: CandidateCache, side_panel: SidePanel,
                 threshold_panel: ThresholdPanel, threshold_binding: ThresholdBinding, load_label: QLabel,
                 load_progress: QProgressBar, device_label: QLabel, settings: Settings, feedback: Feedback,
                 ids: Iterator[int], parent: QWidget, model_process=None,
                 export_running: Callable[[], bool] = lambda: False, backend: str = "auto") -> None:
        """`model_process`: an `engine.forward_process.ForwardProcess` the models run in, or None
        (in this process). `export_running`: whether an export is under way (never interrupted).
        `backend`: what runs models until Model settings says otherwise (`scriptlens gui --backend`)."""
        super().__init__(parent)
        self.session, self.worker, self.cache, self.settings, self.feedback = session, worker, cache, settings, feedback
        self.side_panel, self.threshold_panel, self.threshold_binding = side_panel, threshold_panel, threshold_binding
        self.load_label, self.load_progress, self.device_label = load_label, load_progress, device_label
        self._parent, self._ids, self._process, self._export_running = parent, ids, model_process, export_running
        self.overrides = ModelOverrides(backend=backend)  # the latest model request's; restored when that load fails
        self._loading_overrides = self._loaded_overrides = self.overrides
        self._loading_id = 0
        worker.modelLoading.connect(self._on_worker_model_loading)
        worker.modelLoaded.connect(self._on_worker_model_loaded)
        worker.modelFailed.connect(self._on_worker_model_failed)
        session.modelChanged.connect(self._on_session_model_changed)

    def open_model(self, path: Path | str, overrides: ModelOverrides | None = None) -> int:
        path = Path(path)
        if overrides is None and path != self.session.model_path:
            overrides = ModelOverrides(backend=self.overrides.backend)  # the backend choice stays; the rest is per model
        if overrides is not None:
            self.overrides = overrides
        o = self._loading_overrides = self.overrides
        self._interrupt_stuck_model(f"to open {path.name}")
        request = LoadModelRequest(next(self._ids), path, o.device, o.imgsz, o.names, o.anchors, o.half, o.backend)
        self._loading_id = request.id
        self.load_label.setText(f"Loading {path.name}…")
        self.load_progress.setRange(0, 0)  # busy until the worker reports a stage
        self.load_progress.show()
        self.worker.submit_load(request)
        return request.id

    def _interrupt_stuck_model(self, why: str) -> None:
        """A model that has run one image for a while (stuck, or far too slow here) would hold
        the engine until it returns: stop its process instead (never during an export, which
        would lose images). Only possible when models run in a model process."""
        process = self._process
        if process is None or self._export_running():
            return
        seconds = process.busy_for()
        if seconds >= STUCK_MODEL_S and process.interrupt():
            self.feedback.status(f"The model had been running one image for {seconds:.0f} s: stopped it {why}.", 10000)

    def reload_action(self) -> tuple[str, Callable[[], object]] | None:
        """A "Reload model" button when the model process has stopped (a crash, or a stuck
        model interrupted): one click starts a fresh one with the same model and settings.
        Not automatic: a model that crashes on every image would restart in a loop."""
        process, path = self._process, self.session.model_path
        if process is None or path is None or process.is_running():
            return None
        return "Reload model", lambda: self.open_model(path, self.overrides)

    # ------------------------------------------------------------------ actions
    def open_model_dialog(self) -> None:
        model_path = self.session.model_path
        start = str(model_path.parent) if model_path else self.settings.get_str("last/model")
        path, _ = QFileDialog.getOpenFileName(self._parent, "Open a model", start, MODEL_FILTER)
        if path:
            self.open_model(Path(path))

    def model_settings_dialog(self) -> None:
        info, model_path = self.session.model_info, self.session.model_path
        dialog = ModelSettingsDialog(self.overrides, info.input_hw if info else None,
                                     tuple(info.names) if info else (), self._parent)
        if dialog.exec() and model_path is not None:
            self.open_model(model_path, dialog.overrides())
        elif model_path is None:
            self.overrides = dialog.overrides()

    # ------------------------------------------------------------------ worker and session
    def _on_worker_model_loading(self, request_id: int, message: str, percent: int) -> None:
        if request_id != self._loading_id:
            return
        self.load_label.setText(message)
        self.load_progress.setRange(0, 100)
        self.load_progress.setValue(percent)

    def _on_worker_model_loaded(self, request_id: int, info) -> None:
        if request_id != self._loading_id:
            return  # a newer model was asked for meanwhile
        self.load_progress.hide()
        self.load_label.setText("")
        self._loaded_overrides = self._loading_overrides
        self.cache.clear()
        self.settings.set("last/model", str(info.path))
        self.settings.add_recent("models", str(info.path))
        self.session.set_model(request_id, info)  # widgets (below), rescoring, edits, the current image
        names = tuple(info.names)
        h, w = info.input_hw
        self.feedback.status(f"Model loaded: {Path(info.path).name} ({LAYOUT_TEXT.get(info.layout, (info.layout,))[0]}, {len(names)} classes)", 5000)
        self.feedback.clear("model")
        guessed = [what for key, what in (("names", "class names"), ("imgsz", "input size"))
                   if str(info.sources.get(key, "")).startswith(("default", "probed"))]
        notes = []
        if guessed:
            notes.append(f"The model file does not say its {' or '.join(guessed)}; ScriptLens guessed "
                         f"({', '.join(names[:3])}{'…' if len(names) > 3 else ''}; {w}×{h}). "
                         "Set them in File ▸ Model settings… if they are wrong.")
        if self._loaded_overrides.half and not info.half:
            notes.append("Reduced precision needs a GPU, or a CPU with AVX-512 BF16 or AMX; this CPU has neither, "
                         "so the model runs in float32.")
        if notes:
            self.feedback.info(" ".join(notes))

    def _on_session_model_changed(self, info) -> None:
        """The model-info panel and the class widgets of the new model."""
        names = tuple(info.names)
        h, w = info.input_hw
        self.side_panel.set_model_info({
            "File": Path(info.path).name,
            "FileTip": str(info.path),
            "Layout": LAYOUT_TEXT.get(info.layout, (info.layout, ""))[0],
            "LayoutTip": LAYOUT_TEXT.get(info.layout, ("", ""))[1],
            "Input": f"{w}×{h}" + (f", stride {info.stride}" if info.stride else ""),
            "Device": f"{info.device} ({info.precision})",
            "Runs on": BACKEND_TEXT.get(info.backend, info.backend),
            "Runs onTip": info.backend_text,
            "Classes": str(len(names)),
        })
        self.side_panel.set_classes(names)
        self.threshold_panel.set_classes(names)
        self.threshold_binding.reset_classes()
        self.side_panel.set_iou_enabled(not info.end2end)
        self.device_label.setText(f"device: {info.device}" + (f" {info.precision}" if info.half else ""))

    def _on_worker_model_failed(self, request_id: int, message: str) -> None:
        if request_id != self._loading_id:
            return
        self.load_progress.hide()
        self.load_label.setText("")
        message = message.rstrip()
        if not message.endswith("."):
            message += "."
        self.overrides = self._loaded_overrides  # the settings of the model still in use (Model settings, reload)
        model_path = self.session.model_path
        reload = self.reload_action()  # the file crashed the model process, and the model in use with it
        if reload is not None:
            still = f" ({model_path.name} stopped with the model process.)"
        else:
            still = f" (Still using {model_path.name}.)" if self.session.model_id and model_path else ""
        self.feedback.error(f"Cannot load the model: {message}{still}", reload, cause="model")
