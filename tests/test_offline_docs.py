"""Great Expectations' Data Docs and `dvc plots show` load their scripts, styles and fonts from local pinned copies:
no request leaves the machine, checked in the files and in a headless Chromium."""
import configparser
import json
import os
import re
import subprocess
import sys
import tarfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from stages import validate
from stages.lib import paths, web_assets
from stages.lib.errors import PipelineError
from stages.lib.io import write_json
from stages.lib.web_assets import DATA_DOCS_URLS, PACKAGES, install, installed_dir, make_data_docs_offline, offline_page
from stages.lib.splitting import write_split
from tests.conftest import ROOT, digits_like, holdout_split, write_params, write_raw

CHROMIUM = "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"Debian's Chromium is not installed ({CHROMIUM}; apt-get install chromium)")
PLOTS_TEMPLATE = ROOT / ".dvc" / "plots_offline.html"


# --- what a browser would fetch ---------------------------------------------------------------------------------

_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""")
_REMOTE = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)
_FETCHED_LINKS = {"stylesheet", "icon", "preload", "modulepreload", "manifest", "apple-touch-icon"}


def css_urls(css: str) -> list:
    return [a or b for a, b in _CSS_URL.findall(css)]


class _Fetches(HTMLParser):
    """The URLs a browser loads by itself when it opens a page: scripts, stylesheets, icons, images, frames,
    and the url() of inline styles."""

    def __init__(self):
        super().__init__()
        self.urls, self._style = [], False

    def handle_starttag(self, tag, attrs):
        attrs = {name: value or "" for name, value in attrs}
        if tag == "link" and _FETCHED_LINKS & set(attrs.get("rel", "").lower().split()):
            self.urls.append(attrs.get("href", ""))
        if tag in ("script", "img", "iframe", "frame", "source", "embed", "audio", "video", "track", "input"):
            self.urls.append(attrs.get("src", ""))
        if tag == "object":
            self.urls.append(attrs.get("data", ""))
        self.urls += [part.split()[0] for part in attrs.get("srcset", "").split(",") if part.strip()]
        self.urls += css_urls(attrs.get("style", ""))
        self._style = tag == "style"

    def handle_endtag(self, tag):
        if tag == "style":
            self._style = False

    def handle_data(self, data):
        if self._style:
            self.urls += css_urls(data)


def remote_fetches(folder: Path) -> list:
    """Every http(s) URL a browser would load from the pages and stylesheets under `folder`, as 'file: url'."""
    found = []
    for path in sorted(folder.rglob("*")):
        if path.suffix == ".html":
            parser = _Fetches()
            parser.feed(path.read_text(encoding="utf-8"))
            urls = parser.urls
        elif path.suffix == ".css":
            urls = css_urls(path.read_text(encoding="utf-8"))
        else:
            continue
        found += [f"{path.relative_to(folder)}: {url}" for url in urls if _REMOTE.match(url)]
    return found


def test_remote_fetches_finds_what_a_browser_loads_and_ignores_plain_links(tmp_path):
    (tmp_path / "a.html").write_text(
        '<script src="https://cdn.example/x.js"></script><link rel="stylesheet" href="//cdn.example/y.css">'
        '<img src="http://img.example/z.png"><div style="background: url(\'https://img.example/bg.png\')"></div>'
        '<style>.a { background: url(https://img.example/s.png) }</style>'
        '<a href="https://greatexpectations.io">site</a><svg xmlns="http://www.w3.org/2000/svg"></svg>'
        '<script src="local.js"></script><img src="static/images/logo.png">')
    (tmp_path / "b.css").write_text('@import "https://cdn.example/i.css"; .b { src: url(../webfonts/f.woff2) }')
    assert remote_fetches(tmp_path) == [
        "a.html: https://cdn.example/x.js", "a.html: //cdn.example/y.css", "a.html: http://img.example/z.png",
        "a.html: https://img.example/bg.png", "a.html: https://img.example/s.png", "b.css: https://cdn.example/i.css"]


# --- rewriting Great Expectations' pages -------------------------------------------------------------------------

GE_PAGE = """<head>
<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css" integrity="sha384-abc" crossorigin="anonymous"/>
<script src="https://code.jquery.com/jquery-3.7.1.min.js" integrity="sha256-def" crossorigin="anonymous"></script>
<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>
<script src="https://cdn.example/unknown.js" crossorigin="anonymous"></script>
<link rel="shortcut icon" href="../static/images/favicon.ico" type="image/x-icon"/>
<style>.navbar-brand a { background: url('https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/full_logo_dark.png') }</style>
</head><body>
<img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png" alt="logo">
<a href="https://greatexpectations.io">Great Expectations</a><p>integrity="kept" in the text</p>
</body>"""


def test_cdn_assets_become_local_copies_without_integrity_attributes():
    page = offline_page(GE_PAGE, vendor="../../static/vendor", root="../..")
    assert ('<link rel="stylesheet" href="../../static/vendor/bootstrap@4.3.1/dist/css/bootstrap.min.css"/>'
            in page)
    assert '<script src="../../static/vendor/jquery@3.7.1/dist/jquery.min.js"></script>' in page
    assert '<script src="../../static/vendor/vega@5.20.2/build/vega.min.js"></script>' in page
    # GE's logos come from its own static folder; its favicon link gets the right depth
    assert "url('../../static/images/logo-long.png')" in page and '<img src="../../static/images/logo-long.png"' in page
    assert 'href="../../static/images/favicon.ico"' in page
    # what is not a known CDN asset is left as it was: an unknown script, a link to follow, the page's text
    assert '<script src="https://cdn.example/unknown.js" crossorigin="anonymous"></script>' in page
    assert '<a href="https://greatexpectations.io">' in page and 'integrity="kept" in the text' in page
    assert offline_page(page, vendor="../../static/vendor", root="../..") == page


def test_every_cdn_asset_and_the_plots_template_use_pinned_files():
    pinned = {f"{spec}/{name}" for spec, (_, names) in PACKAGES.items() for name in names}
    assert set(DATA_DOCS_URLS.values()) <= pinned
    template = PLOTS_TEMPLATE.read_text()
    scripts = re.findall(r'<script src="\.\./\.venv/share/uwf-web/([^"]+)"', template)
    assert len(scripts) == 3 and set(scripts) <= pinned
    assert remote_fetches(PLOTS_TEMPLATE.parent) == []
    assert "{plot_divs}" in template and "{refresh_tag}" in template and "{scripts}" not in template
    config = configparser.ConfigParser()
    config.read(ROOT / ".dvc" / "config")
    assert config["plots"]["html_template"] == PLOTS_TEMPLATE.name  # relative to .dvc/


def test_data_docs_without_installed_assets_name_the_setup_command(tmp_path):
    (tmp_path / "index.html").write_text(GE_PAGE)
    with pytest.raises(PipelineError, match=r"run `bash setup\.sh --no-repro`$"):
        make_data_docs_offline(tmp_path, source=tmp_path / "nothing")
    assert (tmp_path / "index.html").read_text() == GE_PAGE and not (tmp_path / "static").exists()


def test_validate_without_installed_assets_stops_and_writes_nothing(project, monkeypatch):
    monkeypatch.setattr(web_assets, "installed_dir", lambda: project / "no-assets")
    x, y = digits_like()
    write_raw(project, x, y)
    write_split(holdout_split(y), project)
    with pytest.raises(PipelineError, match="run `bash setup.sh --no-repro`"):
        validate.main()
    assert not (project / paths.DATA_DOCS).exists() and not (project / paths.VALIDATION).exists()


# --- installing from the npm registry ----------------------------------------------------------------------------

def fake_package(folder: Path, files: dict) -> tuple:
    """An npm-style tarball (files under package/) and its integrity string."""
    source = folder / "source"
    for name, text in files.items():
        (source / "package" / name).parent.mkdir(parents=True, exist_ok=True)
        (source / "package" / name).write_text(text)
    tarball = folder / "pkg-1.0.0.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(source / "package", arcname="package")
    return tarball, web_assets._integrity(tarball.read_bytes())


def fake_npm(folder: Path, tarball: Path) -> str:
    """An `npm` that answers `npm pack SPEC --json --pack-destination DIR` with `tarball`, and logs its calls."""
    script = folder / "npm"
    script.write_text(f"""#!{sys.executable}
import json, shutil, sys
args = sys.argv[1:]
open({str(folder / 'calls')!r}, "a").write(" ".join(args) + "\\n")
destination = args[args.index("--pack-destination") + 1]
shutil.copy({str(tarball)!r}, destination)
print(json.dumps([{{"filename": {tarball.name!r}}}]))
""")
    script.chmod(0o755)
    return str(script)


def test_install_keeps_the_pinned_files_and_skips_what_is_there(tmp_path):
    tarball, integrity = fake_package(tmp_path, {"dist/a.js": "a()", "dist/b.css": ".b{}", "README.md": "x"})
    npm = fake_npm(tmp_path, tarball)
    packages = {"@scope/pkg@1.0.0": (integrity, ["dist/a.js", "dist/b.css"])}
    root = tmp_path / "share"
    assert install(root, packages, npm) == ["@scope/pkg@1.0.0"]
    assert (root / "@scope/pkg@1.0.0/dist/a.js").read_text() == "a()"
    assert sorted(p.name for p in (root / "@scope").rglob("*") if p.is_file()) == ["a.js", "b.css"]
    assert install(root, packages, npm) == []
    assert len((tmp_path / "calls").read_text().splitlines()) == 1
    (root / "@scope/pkg@1.0.0/dist/b.css").unlink()  # an incomplete package is fetched again
    assert install(root, packages, npm) == ["@scope/pkg@1.0.0"]


def test_install_refuses_a_tarball_whose_checksum_differs(tmp_path):
    tarball, _ = fake_package(tmp_path, {"dist/a.js": "tampered()"})
    packages = {"pkg@1.0.0": ("sha512-" + "A" * 86 + "==", ["dist/a.js"])}
    with pytest.raises(PipelineError, match=r"^the npm tarball of pkg@1\.0\.0 has sha512 .* pinned in stages/lib/web_assets\.py"):
        install(tmp_path / "share", packages, fake_npm(tmp_path, tarball))
    assert not (tmp_path / "share" / "pkg@1.0.0").exists()


def test_install_names_the_package_npm_could_not_fetch(tmp_path):
    npm = tmp_path / "npm"
    npm.write_text("#!/bin/sh\necho 'npm error code E404' >&2\necho 'npm error 404 Not Found - pkg@1.0.0' >&2\nexit 1\n")
    npm.chmod(0o755)
    with pytest.raises(PipelineError, match=r"^npm could not fetch pkg@1\.0\.0 \(npm error 404 Not Found - pkg@1\.0\.0\)"):
        install(tmp_path / "share", {"pkg@1.0.0": ("sha512-x", ["dist/a.js"])}, str(npm))
    assert not (tmp_path / "share" / "pkg@1.0.0").exists()


def test_install_without_npm_says_what_to_install(tmp_path):
    packages = {"pkg@1.0.0": ("sha512-x", ["dist/a.js"])}
    with pytest.raises(PipelineError, match=r"^npm is not on PATH; install Node\.js and npm"):
        install(tmp_path / "share", packages, npm=str(tmp_path / "no-npm"))


def test_the_environment_has_every_pinned_file():
    """setup.sh installs them; without them validate stops (see the test above)."""
    assert web_assets.missing_files(installed_dir()) == []


# --- the real pages ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def data_docs(tmp_path_factory) -> Path:
    """Data Docs as the validate stage writes them, for small digits-like data."""
    folder = tmp_path_factory.mktemp("validated")
    write_params(folder, yaml.safe_load((ROOT / "params.yaml").read_text()))
    x, y = digits_like()
    write_raw(folder, x, y)
    write_split(holdout_split(y), folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        validate.main()
    return folder / paths.DATA_DOCS


def test_data_docs_load_nothing_from_the_network(data_docs):
    assert remote_fetches(data_docs) == []
    for url in DATA_DOCS_URLS.values():
        assert (data_docs / web_assets.DATA_DOCS_VENDOR / url).is_file(), url
    pages = list(data_docs.rglob("*.html"))
    assert len(pages) > 3 and not [p for p in pages if "integrity=" in p.read_text()]


@pytest.fixture(scope="module")
def dvc_plots(tmp_path_factory) -> Path:
    """`dvc plots show` in a repository with the project's plots template and a .venv (this environment)."""
    repo = tmp_path_factory.mktemp("plots")
    (repo / ".venv").symlink_to(sys.prefix)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    for command in (["git", "init", "-q"], [sys.executable, "-m", "dvc", "init", "-q"]):
        subprocess.run(command, cwd=repo, env=env, check=True, capture_output=True)
    (repo / ".dvc" / "plots_offline.html").write_text(PLOTS_TEMPLATE.read_text())
    with open(repo / ".dvc" / "config", "a") as config:
        config.write("[plots]\n    html_template = plots_offline.html\n")
    (repo / "curve.csv").write_text("epoch,loss\n" + "".join(f"{i},{1 / (i + 1):.3f}\n" for i in range(10)))
    subprocess.run([sys.executable, "-m", "dvc", "plots", "show", "curve.csv", "-x", "epoch", "-y", "loss"],
                   cwd=repo, env=env, check=True, capture_output=True)
    return repo / "dvc_plots"


def test_dvc_plots_page_loads_nothing_from_the_network(dvc_plots):
    page = (dvc_plots / "index.html").read_text()
    assert "vegaEmbed(" in page and remote_fetches(dvc_plots) == []


def open_offline(page: Path, rendered: str) -> dict:
    """Open `page` in headless Chromium with every request off the machine refused. Returns the requests it
    tried, the script errors it logged, and whether the JavaScript condition `rendered` came true in time."""
    from playwright.sync_api import Error, sync_playwright

    requests, errors = [], []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            tab = browser.new_page()
            tab.on("request", lambda r: None if r.url.startswith(("file:", "data:", "blob:")) else requests.append(r.url))
            tab.route(lambda url: not url.startswith(("file:", "data:", "blob:")), lambda route: route.abort())
            tab.on("pageerror", lambda error: errors.append(str(error)))
            tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            tab.goto(page.as_uri(), wait_until="load")
            try:
                tab.wait_for_function(rendered, timeout=15_000)
                done = True
            except Error:
                done = False
        finally:
            browser.close()
    return {"requests": requests, "errors": errors, "rendered": done}


@needs_chromium
def test_data_docs_render_in_a_browser_without_a_network(data_docs):
    # bootstrap-table filled the list of validation results (one row per suite), Bootstrap's styles apply,
    # Font Awesome's font drew the status icons
    index = open_offline(data_docs / "index.html", """() =>
        document.querySelectorAll('.bootstrap-table tbody tr a[href^="expectations/"]').length > 0
        && getComputedStyle(document.querySelector('nav.d-flex')).display === 'flex'
        && [...document.fonts].some(f => f.family.includes('Font Awesome') && f.status === 'loaded')""")
    assert index == {"requests": [], "errors": [], "rendered": True}
    validation_page = next((data_docs / "validations").rglob("*.html"))
    page = open_offline(validation_page, """() =>
        typeof window.vegaEmbed === 'function' && typeof jQuery().bootstrapTable === 'function'
        && getComputedStyle(document.querySelector('nav.d-flex')).display === 'flex'""")
    assert page == {"requests": [], "errors": [], "rendered": True}


@needs_chromium
def test_dvc_plots_render_in_a_browser_without_a_network(dvc_plots):
    result = open_offline(dvc_plots / "index.html",
                          "() => document.querySelectorAll('.vega-embed canvas, .vega-embed svg.marks').length > 0")
    assert result == {"requests": [], "errors": [], "rendered": True}
