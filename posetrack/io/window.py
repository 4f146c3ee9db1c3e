"""A window showing frames (``posetrack run --show``), through OpenCV's HighGUI where this OpenCV build has one,
else through Tk, which comes with Python: the project installs the headless OpenCV (no GUI libraries on servers),
and swapping it for the GUI build would fight pip over the one ``cv2`` package, so the window needs no extra
package. Tk needs a display ($DISPLAY or a Wayland display with XWayland) and Python's tkinter (Debian and Ubuntu
ship it apart: ``apt install python3-tk``).
"""

from __future__ import annotations

import os
from typing import Any, Protocol

import numpy as np

from posetrack.errors import PosetrackError

STOP_KEYS = ("q", "Escape")
NO_TOOLKIT = ("--show needs a GUI toolkit: this OpenCV build is headless and this Python has no tkinter; install "
              "your system's Tk for Python (Debian/Ubuntu: apt install python3-tk), or OpenCV's GUI build in place "
              "of the headless one (pip uninstall opencv-python-headless && pip install opencv-python)")


class Window(Protocol):
    def show(self, image: np.ndarray) -> bool:
        """Display ``image`` (H, W, 3) uint8 BGR; True once the user asked to stop (q, Esc, or closing it)."""
        ...

    def close(self) -> None: ...


def open_window(name: str) -> Window:
    """A window titled ``name``, or ``PosetrackError`` in one line saying why there can be none and what to do."""
    if opencv_has_gui():
        return OpenCvWindow(name)
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise PosetrackError("--show needs a display, and there is none ($DISPLAY is not set: over SSH use ssh -X; "
                             "in a container pass the X socket); the files in --out need none")
    try:
        import tkinter
    except ImportError:
        raise PosetrackError(NO_TOOLKIT) from None
    try:
        return TkWindow(name, tkinter.Tk())
    except tkinter.TclError as exc:
        raise PosetrackError(f"--show: cannot open a window on display {os.environ.get('DISPLAY', '')!r}: {exc}"
                             ) from None


def opencv_has_gui() -> bool:
    """Whether this OpenCV build can open windows (the headless build says ``GUI: NONE``)."""
    import cv2

    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith("GUI:"):
            return line.split(":", 1)[1].strip().upper() != "NONE"
    return False


class OpenCvWindow:
    def __init__(self, name: str):
        import cv2

        self.name = name
        try:
            cv2.namedWindow(name, cv2.WINDOW_NORMAL)
        except cv2.error as exc:
            raise PosetrackError(f"--show: OpenCV cannot open a window: {str(exc).strip().splitlines()[-1]}") from None

    def show(self, image: np.ndarray) -> bool:
        import cv2

        cv2.imshow(self.name, image)
        return cv2.waitKey(1) & 0xFF in (ord("q"), 27)

    def close(self) -> None:
        import cv2

        cv2.destroyWindow(self.name)


class TkWindow:
    """Frames as a Tk photo image (binary PPM, which Tk reads without Pillow) in a label, refreshed per frame
    without a main loop: ``show`` processes the window's events itself."""

    def __init__(self, name: str, root: Any):
        import tkinter

        self.root, self.stopped = root, False
        root.title(name)
        self.label = tkinter.Label(root, borderwidth=0)
        self.label.pack()
        self.photo: Any = None  # Tk shows the image only while Python holds it
        root.bind("<Key>", lambda event: self._stop() if event.keysym in STOP_KEYS else None)
        root.protocol("WM_DELETE_WINDOW", self._stop)

    def _stop(self) -> None:
        self.stopped = True

    def show(self, image: np.ndarray) -> bool:
        import tkinter

        if not self.stopped:
            h, w = image.shape[:2]
            ppm = b"P6 %d %d 255\n" % (w, h) + np.ascontiguousarray(image[..., ::-1]).tobytes()
            self.photo = tkinter.PhotoImage(master=self.root, data=ppm, format="PPM")
            self.label.configure(image=self.photo)
            self.root.update()
        return self.stopped

    def close(self) -> None:
        import tkinter

        try:
            self.root.destroy()
        except tkinter.TclError:  # the user closed it already
            pass
