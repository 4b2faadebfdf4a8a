"""The confirmation before an export writes into someone's labels (engine.label_guard).

It names the folder, whose it is and the files at stake. When files would be replaced, "Back
up, then write" is the default button, so Enter never destroys anything. Returns the policy to export with, or None (cancel).
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from engine.label_guard import ExportTarget
from engine.labels import OnExisting


def confirm_protected_export(parent, target: ExportTarget, policy: OnExisting) -> OnExisting | None:
    replaces = policy is not OnExisting.SKIP
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Write into these labels?")
    box.setText(target.describe(replaces))
    box.setInformativeText("Predictions would stand beside (or in place of) labels a person made. "
                           "Pick another folder in Export labels… to leave them alone.")
    if replaces:
        default = backup = box.addButton("Back up, then write", QMessageBox.ButtonRole.AcceptRole)
        overwrite = box.addButton("Overwrite without backup", QMessageBox.ButtonRole.DestructiveRole)
        add_only = None
    else:  # "skip" replaces nothing: the only change is the new files
        backup = overwrite = None
        default = add_only = box.addButton(f"Add {target.new} new file(s), keep the rest",
                                           QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(default)
    box.exec()
    clicked = box.clickedButton()
    box.deleteLater()
    for button, policy_chosen in ((backup, OnExisting.BACKUP), (overwrite, OnExisting.OVERWRITE),
                                  (add_only, OnExisting.SKIP)):
        if button is not None and clicked is button:
            return policy_chosen
    return None  # Cancel, Escape or the window closed
