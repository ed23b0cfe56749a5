#!/usr/bin/env python3
"""Serves the DiskDB web demo on http://127.0.0.1:8080/ (a static server, nothing leaves the
machine). The page is web-demo/ and the npm package is wasm/npm/ under /pkg/; the package is
built first (wasm/npm/build.sh) when its dist/ is missing, or always with --build.

127.0.0.1 is a secure context, which OPFS needs. The page is cross-origin isolated (COOP and
COEP headers) only for the benchmark's finer timer; it uses no SharedArrayBuffer.

Usage: python3 web-demo/serve.py [--port N] [--build]   (--port 0: any free port)
"""

import argparse
import functools
import http.server
import os
import subprocess
import sys

DEMO = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(DEMO)
PACKAGE = os.path.join(ROOT, "wasm", "npm")
# Only what the package ships, so /pkg/ does not expose the build script or node_modules.
PACKAGE_FILES = {"index.js", "worker.js", "dist/diskdb_wasm.js", "dist/diskdb_wasm_bg.wasm"}

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    # instantiateStreaming insists on this type.
    ".wasm": "application/wasm",
}


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **TYPES}

    def translate_path(self, path):
        clean = path.split("?", 1)[0].split("#", 1)[0]
        if clean.startswith("/pkg/"):
            rel = clean[len("/pkg/"):]
            if rel in PACKAGE_FILES:
                return os.path.join(PACKAGE, rel)
            return os.path.join(DEMO, "__missing__")
        # The page's own files only: not the tests, not this script.
        if clean.startswith("/tests/") or (clean != "/" and os.path.splitext(clean)[1] not in TYPES):
            return os.path.join(DEMO, "__missing__")
        return super().translate_path(path)

    def list_directory(self, path):
        self.send_error(404)
        return None

    def end_headers(self):
        # A rebuilt package or an edited page is picked up by a plain reload.
        self.send_header("Cache-Control", "no-store")
        # Cross-origin isolation gives the benchmark a 5 µs timer instead of a 100 µs one;
        # everything is same-origin, so it costs nothing.
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        super().end_headers()

    def log_message(self, format, *args):
        if self.server.verbose:
            super().log_message(format, *args)


def main():
    parser = argparse.ArgumentParser(description="Serve the DiskDB web demo on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8080, help="TCP port (0: any free port)")
    parser.add_argument("--build", action="store_true", help="rebuild the npm package first")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args()

    wasm = os.path.join(PACKAGE, "dist", "diskdb_wasm_bg.wasm")
    if args.build or not os.path.exists(wasm):
        print("building the npm package (wasm/npm/build.sh)...", flush=True)
        subprocess.run(["bash", os.path.join(PACKAGE, "build.sh")], check=True)

    handler = functools.partial(Handler, directory=DEMO)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    server.verbose = args.verbose
    print(f"DiskDB demo: http://127.0.0.1:{server.server_address[1]}/  (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
