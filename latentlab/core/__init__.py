"""Qt-free engine of LatentLab: data sets, model families, training, files, latent maths.

Nothing under ``latentlab.core`` may import PySide6, pyqtgraph or superqt.
"""
