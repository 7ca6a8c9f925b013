"""Build the course website from the committed notebooks: `make site` runs this script.

    python site/build.py [OUTPUT_DIR]

Jupyter Book 1.x (Sphinx, sphinx-book-theme) renders every notebook with the outputs of its
last full run; nothing is executed (``execute_notebooks: "off"`` in site/_config.yml), so the
build takes seconds. The HTML lands in OUTPUT_DIR/_build/html (default: site/_build/html,
not committed). tests/test_site.py builds into a temporary folder and checks every page in
Chromium.

The drawing demo (site/demo.md) runs the model in the browser with onnxruntime-web, an npm
package pinned in package.json and package-lock.json. When node_modules/ lacks it, this script
runs `npm ci` first (the only step that needs the network, once); without npm the site is
still built and the demo page says that it cannot run.

The demo's model is the deployed model, models/deployed_cnn.keras (notebook 09), exported
with its extra outputs by `python -m helpers.demo_model` into scratch/demo/ (git-ignored),
again only when that export is older than the model or the exporting code.
"""

from __future__ import annotations

import json
import shutil
import subprocess
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


RUNTIME_PACKAGE = "node_modules/onnxruntime-web"


def _version(package_json: Path) -> str | None:
    if not package_json.is_file():
        return None
    return json.loads(package_json.read_text(encoding="utf-8")).get("version")


def ensure_browser_runtime(root: Path = REPO_ROOT) -> bool:
    """Install onnxruntime-web with `npm ci` (exact versions from package-lock.json) when
    node_modules/ lacks it or holds another version; return whether it is installed."""
    marker = root / RUNTIME_PACKAGE / "package.json"
    lock = json.loads((root / "package-lock.json").read_text(encoding="utf-8"))
    wanted = lock["packages"][RUNTIME_PACKAGE]["version"]
    if _version(marker) == wanted:
        return True
    npm = shutil.which("npm")
    if npm is None:
        print("warning: npm not found, so the drawing demo's runtime (onnxruntime-web) is not "
              "installed; install Node.js (with npm) and run `make site` again", file=sys.stderr)
        return False
    print("Installing the drawing demo's runtime: npm ci (package-lock.json)")
    result = subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=root, check=False
    )
    if result.returncode != 0 or _version(marker) != wanted:
        print("warning: `npm ci` failed; the drawing demo will not run", file=sys.stderr)
        return False
    return True


def ensure_demo_model(root: Path = REPO_ROOT) -> bool:
    """Export the demo's ONNX file into scratch/demo/ (see course_site.demo_files) when it is
    missing or stale; return whether the demo has a model."""
    sys.path.insert(0, str(SITE_DIR / "_ext"))
    from course_site import demo_files

    files = demo_files(root)
    onnx_file, source = root / str(files["onnx"]), root / str(files["source"])
    code = root / "helpers" / "demo_model.py"
    newest = max(path.stat().st_mtime for path in (source, code) if path.is_file())
    if onnx_file.is_file() and onnx_file.stat().st_mtime >= newest:
        return True
    print(f"Exporting the drawing demo's model: {files['source']} -> {files['onnx']}")
    result = subprocess.run(
        [sys.executable, "-m", "helpers.demo_model", str(source), str(onnx_file)],
        cwd=root, check=False, capture_output=True, text=True,
    )
    if result.returncode != 0:
        print(f"warning: the demo's model could not be exported: {result.stderr[-2000:]}",
              file=sys.stderr)
        return False
    return True


def main(argv: list[str]) -> int:
    """Build the site into argv[0] (default site/) and print where it is and how long it took."""
    output_dir = Path(argv[0]).resolve() if argv else SITE_DIR
    start = time.perf_counter()
    ensure_browser_runtime()
    ensure_demo_model()
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
