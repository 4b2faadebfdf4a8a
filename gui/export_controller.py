"""Export: writing YOLO label files for the current image or the whole folder in the worker,
with the export dialog's remembered choices, the protected-folder confirmation (engine.label_guard),
the progress dialog, the summary banner, and which folder exports go to (`labels_dir`) -- with the
image list's "labelled" column that depends on it.

`confirm` is the seam for the confirmation: the window's `confirm_protected_export` property
reads and replaces it (tests answer it without a modal dialog). `labelsWritten(out_root)` tells the
ground-truth controller an export finished, so labels it scores against are read again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from engine.dataset_layout import DatasetSpec, dataset_refusal
from engine.export import SAVE_CONF_NOTE, ExportOptions
from engine.label_guard import assess_export_target, holds_others_labels, safe_default_export_dir
from engine.labels import OnExisting, label_path_for

from .edits import EditStore
from .export_dialog import ExportChoice, ExportDialog, ExportProgressDialog
from .feedback import Feedback
from .image_list import STATE_EXPORTED, ImageListWidget
from .protected_export_dialog import confirm_protected_export
from .session import Session
from .settings import Settings
from .worker import ExportRequest


class ExportController(QObject):
    labelsWritten = Signal(object)  # the folder an export (finished or cancelled) wrote into

    def __init__(self, session: Session, worker, edits: EditStore, image_list: ImageListWidget, settings: Settings,
                 feedback: Feedback, ids: Iterator[int], parent: QWidget) -> None:
        super().__init__(parent)
        self.session, self.worker, self.edits, self.image_list = session, worker, edits, image_list
        self.settings, self.feedback, self._ids, self._parent = settings, feedback, ids, parent
        self.request: ExportRequest | None = None  # the export running now
        self.progress_dialog: ExportProgressDialog | None = None
        self.last_export_summary = None
        # asked before an export writes into someone's labels (engine.label_guard); tests replace it
        self.confirm: Callable = lambda target, policy: confirm_protected_export(parent, target, policy)
        worker.exportProgress.connect(self._on_worker_export_progress)
        worker.exportFinished.connect(self._on_worker_export_finished)
        worker.exportFailed.connect(self._on_worker_export_failed)
        session.groundTruthChanged.connect(self._install_labelled_probe)  # the export folder depends on it

    @property
    def running(self) -> bool:
        return self.request is not None

    def labels_dir(self) -> Path | None:
        """The export folder: the one last exported to, else the default -- never the folder loaded as
        ground truth nor one holding label files ScriptLens did not write (engine.label_guard)."""
        s = self.session
        if s.root is None:
            return None
        gt_root = s.ground_truth_root
        last = s.last_export_dir
        if last is not None and last != gt_root and not holds_others_labels(last):
            return last
        return safe_default_export_dir(s.root, gt_root)

    def _install_labelled_probe(self, *_args) -> None:
        """row -> whether that image has a label file in the export folder (None: no folder)."""
        root, out, paths = self.session.root, self.labels_dir(), self.session.paths
        probe = None if root is None or out is None else (lambda row: label_path_for(paths[row], root, out).exists())
        self.image_list.model.set_labelled_probe(probe)

    def export_defaults(self) -> ExportChoice:
        s = self.settings
        return ExportChoice(
            whole_folder=True,
            out_dir=self.labels_dir() or Path("labels"),
            save_conf=s.get_bool("export/save_conf", False),
            empty_files=s.get_bool("export/empty_files", True),
            write_classes=s.get_bool("export/write_classes", True),
            on_existing=s.get_str("export/on_existing", "skip"),
            conf_sidecar=s.get_bool("export/conf_sidecar", False),
            dataset_images=s.get_str("export/dataset_images", "symlink"),
        )

    def _remember_export_choice(self, choice: ExportChoice) -> None:
        s = self.settings
        s.set("export/save_conf", choice.save_conf)
        s.set("export/empty_files", choice.empty_files)
        s.set("export/write_classes", choice.write_classes)
        s.set("export/on_existing", choice.on_existing)
        s.set("export/conf_sidecar", choice.conf_sidecar)
        s.set("export/dataset_images", choice.dataset_images)

    # ------------------------------------------------------------------ actions
    def export_image(self) -> None:
        """Save labels of this image, with the remembered choices."""
        d = self.export_defaults()
        self.export(ExportChoice(False, d.out_dir, d.save_conf, d.empty_files, d.write_classes, d.on_existing,
                                 d.conf_sidecar))

    def export_dialog(self) -> None:
        paths = self.session.paths
        if not paths:
            self.feedback.error("Open a folder of images before exporting labels.")
            return
        current = self.session.current_path
        dialog = ExportDialog(self.export_defaults(), current.name if current else None, len(paths), self._parent)
        if dialog.exec():
            self.export(dialog.choice())

    def export(self, choice: ExportChoice) -> int | None:
        """Start an export (no dialog): the current image or the whole folder."""
        s = self.session
        if not s.model_id or s.model_info is None:
            self.feedback.error("Open a model before exporting labels.")
            return None
        if s.root is None or not s.paths:
            self.feedback.error("Open a folder of images before exporting labels.")
            return None
        if self.request is not None:
            self.feedback.error("An export is already running.")
            return None
        current = s.current_path
        paths = tuple(s.paths) if choice.whole_folder else ((current,) if current else ())
        if not paths:
            return None
        policy = OnExisting(choice.on_existing)
        out_dir, dataset = Path(choice.out_dir), None
        if choice.dataset:  # the folder chosen is the dataset; its labels/ gets the labels
            if (refusal := dataset_refusal(out_dir, s.root)) is not None:
                self.feedback.error(f"Cannot lay out a dataset: {refusal}")
                return None
            dataset = DatasetSpec(out_dir, choice.dataset_images)
            out_dir = dataset.labels_dir
        target = assess_export_target(out_dir, paths, s.root, s.ground_truth_root)
        if target.needs_confirmation(replaces_existing=policy is not OnExisting.SKIP):
            confirmed = self.confirm(target, policy)
            if confirmed is None:
                self.feedback.status(f"Export cancelled: nothing written to {out_dir}.", 8000)
                return None
            policy = confirmed
        options = ExportOptions(save_conf=choice.save_conf, empty_files=choice.empty_files,
                                write_classes=choice.write_classes, on_existing=policy,
                                conf_sidecar=choice.conf_sidecar, dataset=dataset)
        request = ExportRequest(next(self._ids), s.model_id, paths, s.root, out_dir,
                                tuple(s.model_info.names), s.thresholds, options, edits=self.edits.snapshot())
        self.request = request
        s.last_export_dir = out_dir
        self._remember_export_choice(choice)
        if choice.whole_folder:
            self.progress_dialog = ExportProgressDialog(len(paths), self._parent)
            self.progress_dialog.canceled.connect(self._on_progress_canceled)
            self.progress_dialog.show()
        self.feedback.status(f"Exporting {len(paths)} image(s) to {out_dir}…")
        self.worker.submit_export(request)
        return request.id

    def cancel(self) -> None:
        self.worker.cancel_export()

    # ------------------------------------------------------------------ worker
    def _on_worker_export_progress(self, request_id: int, done: int, total: int) -> None:
        if self.progress_dialog is not None and self.request and request_id == self.request.id:
            self.progress_dialog.set_progress(done, total)

    def _finish(self) -> ExportRequest | None:
        request, self.request = self.request, None
        if self.progress_dialog is not None:
            self.progress_dialog.canceled.disconnect(self._on_progress_canceled)
            self.progress_dialog.close()
            self.progress_dialog.deleteLater()
            self.progress_dialog = None
        return request

    def _on_worker_export_finished(self, request_id: int, summary) -> None:
        if self.request is None or request_id != self.request.id:
            return
        request = self._finish()
        self.last_export_summary = summary
        failed = {str(p) for p, _ in summary.failed}
        for path in request.paths[: summary.images]:
            row = self.session.row_of(path)
            if row is not None and str(path) not in failed:
                self.image_list.model.set_state(row, STATE_EXPORTED)
        self._install_labelled_probe()
        self.labelsWritten.emit(request.out_root)
        head = "Export cancelled" if summary.cancelled else "Exported"
        text = (f"{head}: {summary.images} of {len(request.paths)} image(s) to {request.out_root} — "
                f"{summary.written} written, {summary.skipped} skipped, {summary.backed_up} backed up, "
                f"{summary.empty} empty, {len(summary.failed)} failed; {summary.detections} boxes "
                f"in {summary.seconds:.1f} s.")
        if summary.degenerate or summary.duplicates:
            # the canvas shows the model's rows; these are zero-area or exact copies, so the
            # picture looks the same, but the label files leave them out (engine.label_rows)
            text += f"\nNot in the label files: {summary.not_written_line().removesuffix(' not written')}."
        if summary.data_yaml:
            text += f"\ndata.yaml: {summary.data_yaml}"
        if request.options.save_conf:
            text += f"\nNote: {SAVE_CONF_NOTE.replace('(--conf-sidecar)', '(Export labels…)')}."
        if summary.failed:
            path, message = summary.failed[0]
            text += f"\nFirst failure: {message}"
        if summary.skipped and not summary.written:
            text += "\nExisting label files were kept (choose Overwrite or Back up in Export labels… to replace them)."
        self.feedback.banner.show_message(text, "warning" if summary.failed or summary.cancelled else "info")
        self.feedback.status(text.splitlines()[0], 10000)

    def _on_worker_export_failed(self, request_id: int, message: str) -> None:
        if self.request is None or request_id != self.request.id:
            return
        self._finish()
        self.feedback.error(f"Export failed: {message}")

    def _on_progress_canceled(self) -> None:
        if self.progress_dialog is not None:
            self.progress_dialog.setLabelText("Cancelling after the current image…")
        self.cancel()
