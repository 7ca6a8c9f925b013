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
"""

from __future__ import annotations

import re
from pathlib import Path

from sphinx.application import Sphinx

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


def setup(app: Sphinx) -> dict[str, object]:
    """Register the README paste on the landing page and the removal of thebe's scripts."""
    app.connect("source-read", _paste_readme)
    app.connect("html-page-context", _drop_thebe)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
