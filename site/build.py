"""Build the course website from the committed notebooks: `make site` runs this script.

    python site/build.py [OUTPUT_DIR]

Jupyter Book 1.x (Sphinx, sphinx-book-theme) renders every notebook with the outputs of its
last full run; nothing is executed (``execute_notebooks: "off"`` in site/_config.yml), so the
build takes seconds and needs no network. The HTML lands in OUTPUT_DIR/_build/html
(default: site/_build/html, not committed). tests/test_site.py builds into a temporary
folder and checks every page in Chromium.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from jupyter_book.cli.main import main as jupyter_book

SITE_DIR = Path(__file__).resolve().parent
REPO_ROOT = SITE_DIR.parent


def build_arguments(output_dir: Path) -> list[str]:
    """Command-line arguments for `jupyter-book build`: the book root is the repository
    root (notebooks/ and figures/ live there), the configuration lives in site/."""
    return [
        "build",
        str(REPO_ROOT),
        "--config", str(SITE_DIR / "_config.yml"),
        "--toc", str(SITE_DIR / "_toc.yml"),
        "--path-output", str(output_dir),
        "--all",  # rebuild every page: a stale page would hide a change to a notebook
    ]


def main(argv: list[str]) -> int:
    """Build the site into argv[0] (default site/) and print where it is and how long it took."""
    output_dir = Path(argv[0]).resolve() if argv else SITE_DIR
    start = time.perf_counter()
    try:
        jupyter_book(build_arguments(output_dir), standalone_mode=False)
    except SystemExit as stop:  # jupyter-book exits with a status on failure
        if stop.code:
            return int(stop.code) if isinstance(stop.code, int) else 1
    seconds = time.perf_counter() - start
    print(f"Site built in {seconds:.1f} s: {output_dir / '_build' / 'html' / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
