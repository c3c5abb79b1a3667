"""The scripts, styles and fonts that Great Expectations' Data Docs and `dvc plots show` load from public CDNs,
pinned here and installed from the npm registry into the environment, so that both pages work offline.

`python -m stages.lib.web_assets install` (run by setup.sh) puts them in .venv/share/uwf-web/PACKAGE@VERSION/;
validate copies the ones Data Docs use into reports/data_docs/static/vendor/ and points the pages at them;
.dvc/plots_offline.html, the template of `dvc plots show`, loads vega from ../.venv/share/uwf-web/.
"""
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from stages.lib.errors import PipelineError, run_stage
from stages.lib.io import atomic_dir

# npm package@version -> (npm's integrity string: the sha512 of its tarball, the files kept from it).
PACKAGES = {
    "vega@5.20.2": ("sha512-qmH7aD9GGPpssVdxL1xgcdxTbQzyRUeRR16Os385ymvQhiwCYQNA6+eXUPAZDTVLfk0RXu6Jzj6kUE5jQ80EVw==",
                    ["build/vega.min.js"]),
    "vega-lite@5.2.0": ("sha512-Yxcg8MvYfxHcG6BbkaKT0oVCIMIcE19UvqIsEwBmyd/7h2nzW7oRnID81T8UrY7hpDrIr6wa2JADOT2dhGNErw==",
                        ["build/vega-lite.min.js"]),
    "vega-embed@6.18.2": ("sha512-wcDyQPE4J5aiCDc3/suH5RQDvrKkjuLkhzUcbOLwEkNF8/+pp17tS0JghzEvAPNRg+5aG1/N2ydixq8Lk3dOlg==",
                          ["build/vega-embed.min.js"]),
    "jquery@3.7.1": ("sha512-m4avr8yL8kmFN8psrbFFFmB/If14iN5o9nw/NgnnM+kybDJpRsAynV2BsfpTYrTRysYUdADVD7CkUUizgkpLfg==",
                     ["dist/jquery.min.js"]),
    "popper.js@1.12.9": ("sha512-s0EEi9xiSCdqz9lV4IiVH5yIZnDX/U1t0tCjB+0jXx9jW8lrR7kOpVupiUg175ogqVoudpDXHF1p6dKATCHMeg==",
                         ["dist/umd/popper.min.js"]),
    "bootstrap@4.3.1": ("sha512-rXqOmH1VilAt2DyPzluTi2blhk17bO7ef+zLLPlWvG494pDxcM234pJ8wTc/6R40UWizAIIMgxjvxZg5kmsbag==",
                        ["dist/js/bootstrap.min.js", "dist/css/bootstrap.min.css"]),
    "bootstrap-table@1.19.1": (
        "sha512-WvV+l1AI/C+zThaKmfHmi/IuayVNB0qdFyEhFx1jyZhO0oLtNJNANkCR3rvJf6Dkh72dsLElxpE/bzK9seEQLA==",
        ["dist/bootstrap-table.min.js", "dist/bootstrap-table.min.css",
         "dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
         "dist/extensions/filter-control/bootstrap-table-filter-control.css",
         "dist/extensions/filter-control/bootstrap-table-filter-control.min.css"]),
    "bootstrap-datepicker@1.9.0": (
        "sha512-9rYYbaVOheGYxjOr/+bJCmRPihfy+LkLSg4fIFMT9Od8WwWB/MB50w0JO1eBgKUMbb7PFHQD5uAfI3ArAxZRXA==",
        ["dist/js/bootstrap-datepicker.min.js", "dist/css/bootstrap-datepicker.min.css"]),
    "@forevolve/bootstrap-dark@1.1.0": (
        "sha512-A3ucpEpxPoTVO490lZZCfjPXxv832l7mm1IxX3bXyxvgwnPGXDLyh7dWrphXKO8YBAu3EswbBEu3VSW8NRMW3A==",
        ["dist/css/bootstrap-prefers-dark.css"]),
    # all.min.css loads its fonts from ../webfonts/ (woff2 first, which every current browser takes).
    "@fortawesome/fontawesome-free@6.6.0": (
        "sha512-60G28ke/sXdtS9KZCpZSHHkCbdsOGEhIUGlwq6yhY74UpTiToIh8np7A8yphhM4BWsvNFtIvLpi4co+h9Mr9Ow==",
        ["css/all.min.css", "webfonts/fa-brands-400.woff2", "webfonts/fa-regular-400.woff2",
         "webfonts/fa-solid-900.woff2", "webfonts/fa-v4compatibility.woff2"]),
}

_CDN = "https://cdn.jsdelivr.net/npm/"
_UNPKG = "https://unpkg.com/"
_CDNJS = "https://cdnjs.cloudflare.com/ajax/libs/"
# What Great Expectations 1.24.1's Data Docs load from CDNs -> package@version/file. GE asks for unversioned vega@5,
# vega-lite@5 and vega-embed@6: they get the versions dvc-render pins, so one copy serves both pages. Its
# filter-control CSS is asked for at 1.19.0: 1.19.1's is the same rules (only the version comment differs).
DATA_DOCS_URLS = {
    _CDN + "vega@5": "vega@5.20.2/build/vega.min.js",
    _CDN + "vega-lite@5": "vega-lite@5.2.0/build/vega-lite.min.js",
    _CDN + "vega-embed@6": "vega-embed@6.18.2/build/vega-embed.min.js",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery@3.7.1/dist/jquery.min.js",
    _CDNJS + "popper.js/1.12.9/umd/popper.min.js": "popper.js@1.12.9/dist/umd/popper.min.js",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap@4.3.1/dist/js/bootstrap.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap@4.3.1/dist/css/bootstrap.min.css",
    _UNPKG + "bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table@1.19.1/dist/bootstrap-table.min.js",
    _UNPKG + "bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "bootstrap-table@1.19.1/dist/bootstrap-table.min.css",
    _UNPKG + "bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        "bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
    _UNPKG + "bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        "bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.css",
    _UNPKG + "bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        "bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
    _CDNJS + "bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        "bootstrap-datepicker@1.9.0/dist/js/bootstrap-datepicker.min.js",
    _CDNJS + "bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        "bootstrap-datepicker@1.9.0/dist/css/bootstrap-datepicker.min.css",
    _CDN + "@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
        "@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css",
    _CDNJS + "font-awesome/6.6.0/css/all.min.css": "@fortawesome/fontawesome-free@6.6.0/css/all.min.css",
}
# Files a page does not name but a copied stylesheet loads.
_DATA_DOCS_EXTRA = [f"@fortawesome/fontawesome-free@6.6.0/{name}"
                    for name in PACKAGES["@fortawesome/fontawesome-free@6.6.0"][1] if name.startswith("webfonts/")]
DATA_DOCS_VENDOR = "static/vendor"  # inside the Data Docs folder

# The logos GE shows from its S3 bucket (an <img> and a dark-mode CSS background): its own copy in static/images.
_GE_LOGO = re.compile(r"https://great-expectations-web-assets\.s3\.us-east-2\.amazonaws\.com/(?:logo-long|full_logo_dark)\.png")
_LOCAL_LOGO = "static/images/logo-long.png"
# GE's favicon template counts one "../" too few on validation pages.
_FAVICON = re.compile(r'(?<=href=")(?:\.\.?/)*static/images/favicon\.ico(?=")')
_TAG = re.compile(r"<(?:script|link)\b[^>]*>", re.IGNORECASE)
_URL_ATTRIBUTE = re.compile(r'\b(src|href)="([^"]*)"')
# Subresource-integrity attributes: a file:// page cannot pass the CORS check crossorigin asks for.
_SRI_ATTRIBUTE = re.compile(r'\s+(?:integrity|crossorigin)\b(?:="[^"]*")?', re.IGNORECASE)


def installed_dir() -> Path:
    """Where setup.sh installs the assets: inside the environment, so every checkout that uses it finds them."""
    return Path(sys.prefix) / "share" / "uwf-web"


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def missing_files(root: Path, packages: dict = PACKAGES) -> list:
    """The pinned files (package@version/file) not present under `root`."""
    return [f"{spec}/{name}" for spec, (_, names) in packages.items() for name in names
            if not (Path(root) / spec / name).is_file()]


def _npm_pack(npm: str, spec: str, destination: Path) -> Path:
    """Fetch one package's tarball from the npm registry (npm's own configuration: registry, proxy, cache)."""
    result = subprocess.run([npm, "pack", spec, "--json", "--ignore-scripts", "--pack-destination", str(destination)],
                            cwd=destination, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise PipelineError(f"npm could not fetch {spec} ({last}); check that the npm registry is reachable")
    return destination / json.loads(result.stdout)[0]["filename"]


def install(root: Path = None, packages: dict = PACKAGES, npm: str = "npm") -> list:
    """Install every pinned package that is not complete under `root` (default: installed_dir()) and return
    their names. Each tarball must match its pinned sha512; a package's folder appears whole or not at all."""
    root = Path(root or installed_dir())
    needed = [spec for spec in packages if missing_files(root, {spec: packages[spec]})]
    if needed and shutil.which(npm) is None:
        raise PipelineError(f"npm is not on PATH; install Node.js and npm (Debian: apt-get install npm) to fetch "
                            f"the pinned web assets of Data Docs and dvc plots ({', '.join(needed)})")
    for spec in needed:
        integrity, names = packages[spec]
        with tempfile.TemporaryDirectory() as download:
            tarball = _npm_pack(npm, spec, Path(download))
            actual = _integrity(tarball.read_bytes())
            if actual != integrity:
                raise PipelineError(f"the npm tarball of {spec} has sha512 {actual}, not the {integrity} "
                                    f"pinned in stages/lib/web_assets.py; nothing was installed for it")
            with tarfile.open(tarball) as archive, atomic_dir(root / spec) as folder:
                for name in names:
                    target = folder / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(archive.extractfile(f"package/{name}").read())
                os.chmod(folder, 0o755)  # a temporary folder is created private
    return needed


def _relative(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target, start)).as_posix()


def offline_page(text: str, vendor: str, root: str) -> str:
    """A Data Docs page or stylesheet that loads from local copies: every CDN asset from `vendor`, GE's logos and
    favicon from `root` (both relative URLs from the page to the vendor folder and to the Data Docs folder)."""
    def local_tag(match):
        tag = match.group(0)
        urls = [url for _, url in _URL_ATTRIBUTE.findall(tag) if url in DATA_DOCS_URLS]
        if not urls:
            return tag
        tag = _URL_ATTRIBUTE.sub(lambda m: f'{m.group(1)}="{vendor}/{DATA_DOCS_URLS[m.group(2)]}"'
                                 if m.group(2) in DATA_DOCS_URLS else m.group(0), tag)
        return _SRI_ATTRIBUTE.sub("", tag)

    text = _TAG.sub(local_tag, text)
    text = _GE_LOGO.sub(f"{root}/{_LOCAL_LOGO}", text)
    return _FAVICON.sub(f"{root}/static/images/favicon.ico", text)


def make_data_docs_offline(docs_dir, source: Path = None) -> None:
    """Copy the assets Data Docs load into `docs_dir`/static/vendor and point every page and stylesheet at them,
    so that the folder works anywhere without a network."""
    docs_dir, source = Path(docs_dir), Path(source or installed_dir())
    used = sorted(set(DATA_DOCS_URLS.values()) | set(_DATA_DOCS_EXTRA))
    absent = [name for name in used if not (source / name).is_file()]
    if absent:
        raise PipelineError(f"the web assets Data Docs need offline are not installed in {source} "
                            f"({len(absent)} missing, e.g. {absent[0]}): run `bash setup.sh --no-repro`")
    vendor = docs_dir / DATA_DOCS_VENDOR
    pages = [p for p in docs_dir.rglob("*") if p.suffix in (".html", ".css") and vendor not in p.parents]
    for name in used:
        (vendor / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, vendor / name)
    for page in pages:
        text = page.read_text(encoding="utf-8")
        local = offline_page(text, _relative(vendor, page.parent), _relative(docs_dir, page.parent))
        if local != text:
            page.write_text(local, encoding="utf-8")


def main(argv: list) -> None:
    if argv != ["install"]:
        raise PipelineError("usage: python -m stages.lib.web_assets install")
    installed = install()
    root = installed_dir()
    print(f"web assets: {len(installed)} package(s) installed in {root}" if installed
          else f"web assets: all {len(PACKAGES)} pinned packages already in {root}")


if __name__ == "__main__":
    run_stage(lambda: main(sys.argv[1:]))
