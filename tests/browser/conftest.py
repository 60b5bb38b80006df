"""Browser tests: the service served by uvicorn in a background thread, and Chromium.

``live_server`` runs the whole application (SQLite, real keys, the demo certificates of
``services/issuance/demo.py``) on a free local port; a test changes its settings with
``@pytest.mark.parametrize("live_server", [{"portal": {...}}], indirect=True)``.
``browser`` is Debian's Chromium driven by Playwright (never ``playwright install``): the
tests skip, or fail under ``CERTDIST_TEST_STRICT=1``, when it is absent.

``axe_script`` is axe-core from npm, installed once into ``.cache/axe-core/`` (gitignored);
:func:`assert_accessible` runs it in a page, :func:`fit_problems` adds the check that
nothing is wider than the window. ``screenshots`` is the folder for pictures a person looks
at: ``$CERTDIST_SCREENSHOT_DIR`` (CI keeps it as an artefact), else the gitignored
``.cache/screenshots/``; files are named ``<page>-<lang>-<width>.png`` (:func:`shot_name`).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from certdist.domain.requests import CertificationRequest
from certdist.formats.divoc_qr import encode_payload
from certdist.formats.qr_image import qr_png
from certdist.services.issuance.demo import DEMO_MOBILE
from tests.support.environment import PROJECT_ROOT, require
from tests.support.live_server import LiveServer
from tests.support.live_server import live_server as serve_live
from tests.support.portal import outbox_reader, sent_count, wait_for_code
from tests.support.request_bodies import vaccination_request_body
from tests.support.services import ServicesFactory

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def live_server(
    request: pytest.FixtureRequest, make_sqlite_services: ServicesFactory
) -> Iterator[LiveServer]:
    overrides: dict[str, Any] = getattr(request, "param", {})
    with serve_live(make_sqlite_services, **overrides) as server:
        yield server


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    """Playwright's driver; one per session (its sync API cannot be started twice)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - depends on the environment
        require(False, "playwright is not installed (pip install playwright)")
        raise
    with sync_playwright() as driver:
        yield driver


#: The Noto fonts the package ships for its PDFs (Devanagari among them).
PACKAGE_FONTS = PROJECT_ROOT / "src" / "certdist" / "formats" / "pdf" / "fontfiles"


def _fontconfig() -> Path:
    """A fontconfig file: the system's fonts and the package's, so that Hindi pages show
    Devanagari (not empty boxes of another width) on machines without a Devanagari font."""
    folder = PROJECT_ROOT / ".cache" / "fontconfig"
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "fonts.conf"
    # Written aside and renamed: parallel test workers never read half a file.
    draft = folder / f"fonts.conf.{os.getpid()}"
    draft.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n'
        f"  <dir>{PACKAGE_FONTS}</dir>\n  <cachedir>{folder / 'cache'}</cachedir>\n"
        "</fontconfig>\n"
    )
    draft.replace(config)
    return config


def launch_chromium(playwright: Any, *extra_args: str) -> Any:
    """Debian's Chromium (skips, or fails in strict mode, when it is not installed)."""
    executable = shutil.which("chromium")
    require(executable, "chromium not found (Debian package chromium)")
    return playwright.chromium.launch(
        executable_path=executable,
        args=[*CHROMIUM_ARGS, *extra_args],
        env={**os.environ, "FONTCONFIG_FILE": str(_fontconfig())},
    )


@pytest.fixture(scope="session")
def browser(playwright: Any) -> Iterator[Any]:
    launched = launch_chromium(playwright)
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture
def contexts(browser: Any) -> Iterator[list[Any]]:
    """Browser contexts a test opens (it appends them), closed after the test."""
    opened: list[Any] = []
    yield opened
    for context in opened:
        context.close()


# --- accessibility and screenshots ---------------------------------------------------------

AXE_VERSION = "4.14.1"
AXE_DIR = PROJECT_ROOT / ".cache" / "axe-core"
#: WCAG 2.2 level AA, as axe-core tags its rules.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
#: Where screenshots go: ``$CERTDIST_SCREENSHOT_DIR`` (relative to the checkout unless
#: absolute), else ``.cache/screenshots/``.
SCREENSHOT_DIR = PROJECT_ROOT / os.environ.get("CERTDIST_SCREENSHOT_DIR", ".cache/screenshots")


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """``axe.min.js`` of axe-core, installed with npm once (a lock keeps parallel test
    workers from installing at the same time)."""
    npm = shutil.which("npm")
    require(npm, "npm is needed to install axe-core for the accessibility checks")
    assert npm is not None
    AXE_DIR.mkdir(parents=True, exist_ok=True)
    script = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
    with (AXE_DIR / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not script.exists() or _axe_version() != AXE_VERSION:
            package_json = AXE_DIR / "package.json"
            if not package_json.exists():  # makes this folder npm's project root
                package_json.write_text('{"name": "certdist-axe", "private": true}\n')
            completed = subprocess.run(
                [
                    npm,
                    "install",
                    "--save-exact",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    f"axe-core@{AXE_VERSION}",
                ],
                cwd=AXE_DIR,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            require(completed.returncode == 0, f"npm install axe-core failed: {completed.stderr}")
    return script


def _axe_version() -> str | None:
    manifest = AXE_DIR / "node_modules" / "axe-core" / "package.json"
    if not manifest.exists():
        return None
    version: str = json.loads(manifest.read_text())["version"]
    return version


def axe_violations(page: Any, axe_script: Path, *, every_rule: bool = False) -> list[str]:
    """axe-core's violations of WCAG 2.2 AA on the page as it is now (``every_rule``: of any
    of axe's rules, its best practices too), one line each: rule id, impact, elements."""
    page.add_script_tag(path=str(axe_script))
    result = page.evaluate(
        "tags => axe.run(document, tags ? {runOnly: {type: 'tag', values: tags}} : {})",
        None if every_rule else WCAG_TAGS,
    )
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(str(node["target"]) for node in violation["nodes"][:5])
        for violation in result["violations"]
    ]


def assert_accessible(page: Any, axe_script: Path, *, every_rule: bool = False) -> None:
    """No axe-core violation (see :func:`axe_violations`). The page's context needs
    ``bypass_csp=True``: the pages allow no injected scripts."""
    problems = axe_violations(page, axe_script, every_rule=every_rule)
    assert not problems, f"{page.url}:\n" + "\n".join(problems)


#: The elements wider than the window, outermost first (their descendants stick out too,
#: but fixing the outer one is what helps), as tag#id.class and a start of their text.
_WIDER = """w => {
  const wide = [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > w + 0.5);
  return wide.filter(e => !wide.includes(e.parentElement)).slice(0, 5).map(e =>
    e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
    [...e.classList].map(c => '.' + c).join('') +
    ` (${Math.round(e.getBoundingClientRect().right)} px): ` +
    (e.textContent || '').trim().slice(0, 40));
}"""


def overflow(page: Any) -> str | None:
    """What makes the page wider than the window (``scrollWidth > innerWidth``), or None."""
    width, inner = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    if width <= inner:
        return None
    return f"{width} px wide at {inner} px: " + "; ".join(page.evaluate(_WIDER, inner))


def fit_problems(page: Any, axe_script: Path) -> list[str]:
    """Every axe-core rule's violations (best practices too) and the overflow, if any."""
    problems = axe_violations(page, axe_script, every_rule=True)
    wider = overflow(page)
    return problems + ([f"overflow: {wider}"] if wider else [])


def shot_name(page_name: str, lang: str, width: int) -> str:
    return f"{page_name}-{lang}-{width}.png"


def screenshot(page: Any, folder: Path, page_name: str, lang: str) -> Path:
    """A full-page screenshot, ``<page>-<lang>-<width>.png``."""
    path = folder / shot_name(page_name, lang, page.viewport_size["width"])
    page.screenshot(path=str(path), full_page=True)
    return path


def page_height(page: Any) -> int:
    """How tall the page's content is in CSS px (the body's box, so also a page shorter than
    the window gets its own figure; ``scrollHeight`` would say the window's height)."""
    height: int = page.evaluate("() => Math.ceil(document.body.getBoundingClientRect().height)")
    return height


def log_in(page: Any, server: LiveServer, mobile: str = DEMO_MOBILE) -> None:
    """Logs in to the portal on the login page with the code from the SMS outbox (the
    form's labels in whatever language the page is in: fields and buttons are found by
    their names)."""
    outbox = server.services.messaging.dev_inbox
    before = sent_count(outbox, mobile)
    page.goto(server.url + "/portal/login")
    page.locator("input[name=mobile]").fill(mobile)
    page.locator("form[action='/portal/login'] button[type=submit]").click()
    page.wait_for_url(server.url + "/portal/verify")
    code = wait_for_code(outbox_reader(outbox), mobile, not_before=before)
    page.locator("input[name=code]").fill(code)
    page.locator("form[action='/portal/verify'] button[type=submit]").click()
    page.wait_for_url(server.url + "/portal/certificates")


def qr_photo(server: LiveServer, directory: Path) -> Path:
    """A PNG of the QR code of a certificate newly issued to ``BEN0001`` (Bhaya Mitra)."""
    request = CertificationRequest.model_validate(vaccination_request_body())
    issued = server.services.issuance.certificates.certify([request])
    credential = server.services.issuance.certificates.signed_credential(issued[0].certificate_id)
    path = directory / "certificate-qr.png"
    path.write_bytes(qr_png(encode_payload(credential)))
    return path


def staff_finds_asha(page: Any, server: LiveServer) -> None:
    """Signs in at the facility desk as the development nurse and searches for the demo
    family's mother (her number and date of birth)."""
    page.goto(server.url + "/facility")
    page.get_by_label("User name").fill("nurse-7")
    page.get_by_label("Password").fill("certdist-demo")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Mobile number").fill(DEMO_MOBILE)
    page.get_by_label("Date of birth").fill("1968-03-14")
    page.get_by_role("button", name="Search").click()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENSHOT_DIR
