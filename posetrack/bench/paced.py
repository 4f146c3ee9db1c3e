"""A paced live source on 127.0.0.1: JPEG frames served as an MJPEG stream (``multipart/x-mixed-replace`` over
HTTP, what many IP cameras send and OpenCV's FFmpeg backend reads) at a fixed frame rate. The live benchmark and
the live-source tests read it as a user's camera would be read."""

from __future__ import annotations

import http.server
import itertools
import threading
import time
from collections.abc import Iterable, Sequence
from types import TracebackType

import cv2
import numpy as np


class PacedMjpegServer:
    """Serves ``frames`` to each connection at ``fps``, frame i at ``i / fps`` seconds after the connection opened.

    Args:
        frames: (H, W, 3) uint8 BGR images, encoded once as JPEG (quality 90).
        fps: frames per second sent.
        until: if given, the frames are served round and round until this event is set (a camera that goes on
            as long as the reader needs); else each connection gets them once and the stream ends.
        cut_after: the first connection breaks off after this many frames, the second gets everything and later
            ones are refused with 404 (a camera that drops once, then goes away).

    Attributes:
        url: ``http://127.0.0.1:<port>/cam.mjpg``.
        connections: GET requests received so far.
    """

    def __init__(self, frames: Sequence[np.ndarray], fps: float, until: threading.Event | None = None,
                 cut_after: int | None = None):
        self.jpegs = [cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes() for f in frames]
        self.fps, self.until, self.cut_after, self.connections = fps, until, cut_after, 0
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True, name="paced-mjpeg").start()
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/cam.mjpg"

    def _frames_for(self, connection: int) -> Iterable[bytes]:
        until = self.until
        if until is not None:
            return itertools.takewhile(lambda _: not until.is_set(), itertools.cycle(self.jpegs))
        if self.cut_after is not None and connection == 1:
            return self.jpegs[:self.cut_after]
        return self.jpegs

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.connections += 1
                connection = server.connections
                if server.cut_after is not None and connection > 2:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                start = time.monotonic()
                try:
                    for i, jpeg in enumerate(server._frames_for(connection)):
                        time.sleep(max(0.0, start + i / server.fps - time.monotonic()))
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n"
                                         % (len(jpeg), jpeg))
                except (BrokenPipeError, ConnectionResetError):  # the reader went away: its business
                    pass

            def log_message(self, format: str, *args: object) -> None:
                pass  # no access log on the terminal

        return Handler

    def close(self) -> None:
        if self.until is not None:
            self.until.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> PacedMjpegServer:
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
