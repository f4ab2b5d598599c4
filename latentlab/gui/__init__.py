"""PySide6 + pyqtgraph desktop interface of LatentLab (thin: widgets, controller, workers)."""
