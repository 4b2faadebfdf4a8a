"""ScriptLens desktop window (PySide6). Never imports torch: the engine worker loads it lazily.

`MainWindow` (main_window.py) only lays out the widgets, builds the menus (actions.py) and wires
one `Session` (session.py) to seven controllers, keeping a thin public API over them for tools and
tests. The `Session` holds the state as plain values with change signals: the thresholds
(`thresholdsChanged(new, old)`), the display flags, the folder and current row (`folderChanged`,
`currentChanged`), the loaded model (`modelChanged`) and the ground-truth source
(`groundTruthChanged`). `ThresholdBinding` keeps the threshold widgets and the session in step;
`ModelController` loads models and fills the model panel; `BrowseController` opens folders, moves
between images, caches and prefetches them and draws the current one (via the pure
`image_view.build_image_view`); `ScoringController` scans the folder in the worker and fills the
threshold panel and the review keys; `ExportController` writes labels and decides the export
folder; `EditController` owns edit mode, marks and the review bar; `GroundTruthController` finds
and reads labels; `ProfileController` saves and loads threshold profiles; `Feedback` is the banner
and status bar they all report through. Controllers never reach into one another: they follow
the session's signals, and the window hands the few cross-cutting calls over as callables
(`truth_for`, `go_to`, `reload_action`, `labels_dir`). A slider move flows one way: the side
panel's `confChanged` → `ThresholdBinding` → `session.update_thresholds(conf=…)` →
`thresholdsChanged(new, old)` → the binding writes the value back into the other widgets (signals
blocked, no echo), `ScoringController` redraws the panel from its cumulative sums and restarts
the review-key timer (and, only when `nms_key` changed — IoU, agnostic, max detections — the
debounced folder rescore), and `BrowseController` clears the list's counts and re-applies the
thresholds to the current image's cached candidates to redraw the canvas, the class counts and
its count cell. Listeners run in the order they connect, which the window fixes (the export controller,
created first, only follows `groundTruthChanged`): model, edits, scoring, ground truth, profiles,
then browsing last, so the current image is redrawn after
everything else has caught up with a new folder or model.
"""
