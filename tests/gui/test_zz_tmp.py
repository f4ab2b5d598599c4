from tests.gui.test_window_tools import *
def test_x(qtbot, window, tmp_path):
    file = tmp_path / "three.png"
    Image.fromarray(np.zeros((28,28),np.uint8)).save(file)
    orig = window.dropEvent
    mime = QMimeData(); mime.setUrls([QUrl.fromLocalFile(str(file))])
    event = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, LEFT, Qt.KeyboardModifier.NoModifier)
    print("type", event.type(), mime.urls())
    from PySide6.QtGui import QDragEnterEvent
    enter = QDragEnterEvent(QPoint(20, 20), Qt.DropAction.CopyAction, mime, LEFT, Qt.KeyboardModifier.NoModifier)
    print("enter", QApplication.sendEvent(window, enter), enter.isAccepted())
    print("drop", QApplication.sendEvent(window, event), event.isAccepted())
    print(window.tools.controller.waypoints)
