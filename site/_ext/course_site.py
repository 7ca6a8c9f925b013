"""Sphinx extension for the course website (`make site`, configured in site/_config.yml).

The landing page (site/intro.md) carries the README: the README is written for GitHub, with
paths relative to the repository root and possibly badge images served from other sites. On
the website every path must resolve and nothing may be fetched from outside, so this
extension pastes the README into the landing page with its links rewritten:

- ``figures/...`` and ``notebooks/...`` links point one folder up (the page lives in site/);
- badge or other images from outside become plain text links (a link is fine offline, an
  image from outside is not);
- links to repository folders (``notebooks/solutions/``) become plain text: a folder is no page.

It also drops sphinx-thebe's scripts from every page: the site runs no code, and those scripts
name a URL outside the site (and are emitted twice, a script error in the browser).

Finally it puts the drawing demo's files into the built site (``_static/demo/``, see
site/demo.md): the page's own scripts and style (site/demo/), the demo's model
(``scratch/demo/deployed_cnn.demo.onnx``, exported by site/build.py with ``helpers.demo_model``
from the deployed model ``models/deployed_cnn.keras``: the model with its feature maps and
Grad-CAM as extra outputs), the model's decline rule
(``models/deployed_cnn.decline.json``) and the few files of onnxruntime-web it
needs, from ``node_modules/`` (``npm ci``; site/build.py runs it when they are absent), with a
``manifest.json`` that tells the page what it got. Without the runtime the page says so
instead of loading anything (see :func:`demo_files`).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

README_MARKER = "<!-- README -->"
LANDING_DOCNAME = "site/intro"

_EXTERNAL_IMAGE = re.compile(r"!\[([^\]]*)\]\((https?://[^)\s]+)[^)]*\)")
_LINKED_EXTERNAL_IMAGE = re.compile(r"\[!\[([^\]]*)\]\((https?://[^)\s]+)[^)]*\)\]\(([^)\s]+)\)")
_RELATIVE_LINK = re.compile(r"(\]\()(?!https?://|#|mailto:|/)([^)\s]+)")
_FOLDER_LINK = re.compile(r"\[([^\]]*)\]\((?!https?://)[^)\s]*/\)")
_HTML_IMG_EXTERNAL = re.compile(r"<img[^>]*src=[\"']https?://[^>]*>", re.IGNORECASE)


def readme_for_site(readme: str) -> str:
    """Return README markdown with paths made relative to site/ and no images from outside."""
    text = _LINKED_EXTERNAL_IMAGE.sub(
        lambda match: f"[{match.group(1) or match.group(3)}]({match.group(3)})", readme
    )
    text = _EXTERNAL_IMAGE.sub(
        lambda match: f"[{match.group(1) or match.group(2)}]({match.group(2)})", text
    )
    text = _HTML_IMG_EXTERNAL.sub("", text)
    text = _FOLDER_LINK.sub(lambda match: match.group(1), text)
    return _RELATIVE_LINK.sub(lambda m: f"{m.group(1)}../{m.group(2)}", text)


def _paste_readme(app: Sphinx, docname: str, source: list[str]) -> None:
    if docname != LANDING_DOCNAME or README_MARKER not in source[0]:
        return
    readme_path = Path(app.srcdir) / "README.md"
    if readme_path.exists():
        app.env.note_dependency(str(readme_path))
        readme = readme_for_site(readme_path.read_text(encoding="utf-8"))
    else:
        readme = "# digits: handwritten digits with CNNs\n\n(README.md not found.)\n"
    source[0] = source[0].replace(README_MARKER, readme)


def _is_thebe_script(script: object) -> bool:
    filename = str(getattr(script, "filename", "") or "")
    body = getattr(script, "attributes", {}).get("body", "")
    return filename.endswith("sphinx-thebe.js") or "THEBE_JS_URL" in body


def _drop_thebe(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    if "script_files" in context:
        context["script_files"] = [
            script for script in context["script_files"] if not _is_thebe_script(script)
        ]


DEMO_SOURCES = "site/demo"
"""The demo page's own scripts and style, relative to the book root (the repository)."""
DEPLOYED_MODEL = "models/deployed_cnn.keras"
"""The deployed model: the predict command's default and the demo's model."""
DEMO_RULE = "models/deployed_cnn.decline.json"
"""Its decline rule (helpers.decline); the page applies it with decline.js."""
DEMO_MODEL = "scratch/demo/deployed_cnn.demo.onnx"
"""Its ONNX export with the demo's extra outputs (helpers.demo_model), made by site/build.py
whenever it is missing or older than the model or the exporting code (git-ignored: it is
derived from the committed model)."""


def demo_files(root: Path) -> dict[str, object]:
    """Which files the demo uses, relative to the repository ``root`` (which the build
    checks for): ``onnx`` (the demo's model, exported by site/build.py), ``source`` (the Keras
    model it is exported from) and ``rule`` (the decline rule)."""
    return {"onnx": DEMO_MODEL, "source": DEPLOYED_MODEL, "rule": DEMO_RULE}


RUNTIME_PACKAGE = "node_modules/onnxruntime-web"
RUNTIME_FILES = (
    "ort.wasm.min.js",  # the runtime's JavaScript API, WebAssembly backend only (50 KB)
    "ort.wasm.min.js.map",  # its source map, so that a browser's developer tools find it here
    "ort-wasm-simd-threaded.mjs",  # the loader of the WebAssembly module
    "ort-wasm-simd-threaded.wasm",  # ONNX Runtime compiled to WebAssembly (about 14 MB)
)


def runtime_version(root: Path) -> str | None:
    """Version of the installed onnxruntime-web, or None when it is not installed."""
    package = root / RUNTIME_PACKAGE / "package.json"
    if not package.is_file():
        return None
    return json.loads(package.read_text(encoding="utf-8"))["version"]


def copy_demo_files(root: Path, target: Path) -> dict[str, object]:
    """Copy the demo's files from the repository ``root`` into ``target`` (``_static/demo``)
    and write ``manifest.json``; return the manifest. ``runtime`` is None in it when
    onnxruntime-web or the model is missing, and the page then explains that it cannot run;
    ``rule`` is None when the page must always answer."""
    target.mkdir(parents=True, exist_ok=True)
    for source in sorted((root / DEMO_SOURCES).glob("*.[jc]s*")):
        shutil.copy2(source, target / source.name)
    files = demo_files(root)
    model = root / str(files["onnx"])
    if model.is_file():
        shutil.copy2(model, target / model.name)
    rule = root / str(files["rule"]) if files["rule"] else None
    if rule is not None and rule.is_file():
        shutil.copy2(rule, target / rule.name)
    version = runtime_version(root)
    dist = root / RUNTIME_PACKAGE / "dist"
    available = version is not None and all((dist / name).is_file() for name in RUNTIME_FILES)
    if available:
        for name in RUNTIME_FILES:
            shutil.copy2(dist / name, target / name)
    manifest = {
        "model": model.name if model.is_file() else None,
        "model_bytes": model.stat().st_size if model.is_file() else 0,
        "source_model": files["source"],
        "rule": rule.name if rule is not None and rule.is_file() else None,
        "rule_missing": rule is not None and not rule.is_file(),
        "runtime": RUNTIME_FILES[0] if available and model.is_file() else None,
        "runtime_version": version,
    }
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _copy_demo(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    manifest = copy_demo_files(Path(app.srcdir), Path(app.outdir) / "_static" / "demo")
    if manifest["model"] is None:
        logger.warning("drawing demo: %s not found (site/build.py exports it from %s)",
                       DEMO_MODEL, DEPLOYED_MODEL)
    elif manifest["rule_missing"]:
        logger.warning("drawing demo: %s not found; the page will say that it cannot decline",
                       DEMO_RULE)
    elif manifest["runtime"] is None:
        logger.warning("drawing demo: onnxruntime-web is not installed (run `npm ci`); "
                       "the demo page will say that it cannot run")


def setup(app: Sphinx) -> dict[str, object]:
    """Register the README paste on the landing page, the removal of thebe's scripts and the
    copying of the drawing demo's files."""
    app.connect("source-read", _paste_readme)
    app.connect("html-page-context", _drop_thebe)
    app.connect("build-finished", _copy_demo)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
