"""``mobilekit web``: serve the browser demo (web_demo/) and an index of the bundles in a directory.

TF-free (the standard library and the bundle reader). Only 127.0.0.1 is served. Every response
carries the COOP/COEP headers that make the page cross-origin isolated, which LiteRT.js needs for
WebAssembly threads (SharedArrayBuffer).

web_demo/ is not Python package data, so a plain ``pip install .`` does not ship it: the demo is
found beside the package (a checkout or an editable install), in $MOBILEKIT_WEB_DEMO, or at
``--demo-dir``. Its JavaScript dependencies (LiteRT.js) come from npm: ``npm install --prefix
web_demo`` (web_demo/package.json pins them).

Routes: ``/`` the demo's static files; ``/bundles/index.json`` the bundles found (each with its
manifest, or the error that makes it unusable); ``/bundles/<dir>/<file>`` a bundle's manifest,
labels and model, and nothing else under the bundles directory; ``/files/<name>`` the files a
caller publishes by name (the browser benchmark target's models).
"""

from __future__ import annotations

import http.server
import json
import os
import sys
import threading
from functools import partial
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from mobilekit.deploy.bundle import MANIFEST, read_bundle
from mobilekit.errors import UsageError

DEMO_ENV = "MOBILEKIT_WEB_DEMO"
NPM_FILES = ("@litertjs/core/dist/index.js", "@litertjs/wasm-utils/dist/index.js")
ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-cache",
}
MIME_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm",
              ".json": "application/json", ".tflite": "application/octet-stream",
              ".txt": "text/plain; charset=utf-8", ".map": "application/json"}
SEARCH_DEPTH = 2  # bundles are found in DIR, its sub-directories and theirs (compare's layout)


def find_demo_dir(explicit: str | os.PathLike | None = None) -> Path:
    """web_demo/: the given directory, $MOBILEKIT_WEB_DEMO, or the one beside the package."""
    if explicit is not None or os.environ.get(DEMO_ENV):
        where = Path(explicit if explicit is not None else os.environ[DEMO_ENV])
        flag = "--demo-dir" if explicit is not None else DEMO_ENV
        if not (where / "index.html").is_file():
            raise UsageError(f"{flag} {where}: not the web demo (no index.html)")
        return where.resolve()
    beside = Path(__file__).resolve().parent.parent / "web_demo"
    if (beside / "index.html").is_file():
        return beside
    raise UsageError("web_demo/ not found beside the mobilekit package (a non-editable `pip install .` "
                     "does not ship it): run from a checkout of mobilekit or pass --demo-dir DIR")


def check_npm_packages(demo: Path) -> None:
    """LiteRT.js comes from npm, not pip: say in one line how to install it when it is missing."""
    if not all((demo / "node_modules" / f).is_file() for f in NPM_FILES):
        raise UsageError(f"{demo}: LiteRT.js is not installed; run `npm install --prefix {demo}` "
                         f"(Node.js and npm needed)")


def find_bundles(root: Path) -> dict[str, Path]:
    """URL key ("a/b", relative to root; the root's own name when root is a bundle) -> bundle dir."""
    if (root / MANIFEST).is_file():
        return {root.resolve().name: root}
    found = {}
    level = [root]
    for _ in range(SEARCH_DEPTH):
        level = sorted(d for parent in level for d in parent.iterdir() if d.is_dir() and not d.name.startswith("."))
        for d in level:
            if (d / MANIFEST).is_file():
                found[d.relative_to(root).as_posix()] = d
        level = [d for d in level if not (d / MANIFEST).is_file()]
    return found


def bundle_index(root: Path) -> dict:
    """What /bundles/index.json says: every bundle found, with its manifest or why it is unusable."""
    entries = []
    for key, path in find_bundles(root).items():
        entry = {"key": key, "url": f"bundles/{quote(key)}/"}
        try:
            manifest = read_bundle(path)
            entry.update(name=manifest["name"], manifest=manifest)
        except UsageError as exc:
            entry.update(name=path.name, error=str(exc))
        entries.append(entry)
    return {"bundles_dir": str(root), "bundles": entries}


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files from the demo directory; bundle files only through the index's keys."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}

    def __init__(self, *args, bundles_root: Path | None, files: dict[str, Path], **kwargs):
        self.bundles_root = bundles_root
        self.files = files
        super().__init__(*args, **kwargs)

    def end_headers(self):
        for name, value in ISOLATION_HEADERS.items():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format, *args):  # noqa: A002 - http.server's signature
        pass  # a page load is ~20 requests; errors reach the browser console instead

    def send_head(self):
        path = unquote(urlsplit(self.path).path)
        if path == "/bundles/index.json":
            index = bundle_index(self.bundles_root) if self.bundles_root else {"bundles_dir": None, "bundles": []}
            return self._send_bytes(json.dumps(index).encode(), "application/json")
        if path.startswith("/bundles/"):
            return self._send_bundle_file(path[len("/bundles/"):])
        if path.startswith("/files/"):
            return self._send_file(self.files.get(path[len("/files/"):]))
        return super().send_head()

    def _send_bundle_file(self, rest: str):
        key, _, name = rest.rpartition("/")
        bundle = find_bundles(self.bundles_root).get(key) if self.bundles_root else None
        allowed = set()
        if bundle is not None:
            try:
                manifest = json.loads((bundle / MANIFEST).read_text("utf-8"))
                allowed = {MANIFEST, manifest.get("model_file"), manifest.get("labels_file")}
            except ValueError:
                allowed = {MANIFEST}
        return self._send_file(bundle / name if name in allowed else None)

    def _send_file(self, path: Path | None):
        if path is None or not path.is_file():
            self.send_error(404, "not a published file")
            return None
        return self._send_bytes(path.read_bytes(), self.guess_type(path.name))

    def _send_bytes(self, data: bytes, content_type: str):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command == "HEAD":
            return None
        self.wfile.write(data)
        return None


class DemoServer:
    """The demo served on 127.0.0.1 from a background thread (tests and the browser target)."""

    def __init__(self, bundles_dir: str | os.PathLike | None, port: int = 0,
                 demo_dir: str | os.PathLike | None = None, files: dict[str, Path] | None = None):
        self.bundles_dir = Path(bundles_dir) if bundles_dir is not None else None
        if self.bundles_dir is not None and not self.bundles_dir.is_dir():
            raise UsageError(f"--bundles {bundles_dir}: no such directory")
        self.demo_dir = find_demo_dir(demo_dir)
        check_npm_packages(self.demo_dir)
        handler = partial(_Handler, directory=str(self.demo_dir), files=dict(files or {}),
                          bundles_root=self.bundles_dir.resolve() if self.bundles_dir else None)
        try:
            self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        except OSError as exc:
            raise UsageError(f"--port {port}: cannot listen on 127.0.0.1:{port} ({exc.strerror})") from exc
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def serve(bundles_dir: str | os.PathLike, port: int, demo_dir: str | os.PathLike | None = None) -> int:
    """Serve until Ctrl-C."""
    server = DemoServer(bundles_dir, port, demo_dir)
    count = len(find_bundles(server.bundles_dir))
    print(f"mobilekit web: {server.url} serves the demo from {server.demo_dir} and {count} bundle(s) "
          f"from {server.bundles_dir} (Ctrl-C stops)", file=sys.stderr)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
