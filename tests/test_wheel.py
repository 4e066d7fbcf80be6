"""The built wheel, installed in a clean virtualenv, serves every page from any folder.

Templates, static and vendor files, migrations and translations have to travel inside the
wheel: the server here runs from a virtualenv of its own, in an empty working directory, with
no checkout on its path. The dependencies are the ones uv.lock pins, taken from uv's cache when
it has them (offline), else from PyPI.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from uv import find_uv_bin

from tests.fixtures.app import SECRET_KEY
from tests.fixtures.live import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def _environment() -> dict[str, str]:
    """This process's environment without Portal's settings, or any virtualenv and path that
    could make the installed server import the checkout."""
    return {
        **{
            name: value
            for name, value in os.environ.items()
            if not name.startswith("PORTAL_")
            and name not in {"PYTHONPATH", "VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"}
        },
        "UV_SYSTEM_CERTS": os.environ.get("UV_SYSTEM_CERTS", "1"),
        "UV_PYTHON_DOWNLOADS": "never",
    }


def _uv(*args: str, cwd: Path) -> None:
    """Runs uv offline from its cache, and again online when something was not in the cache."""
    command = [find_uv_bin(), *args]
    env = _environment()
    offline = subprocess.run(
        [*command, "--offline"], cwd=cwd, env=env, capture_output=True, timeout=120
    )
    if offline.returncode != 0:
        subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv holding the wheel built from this checkout and the locked dependencies;
    its ``bin`` folder."""
    where = tmp_path_factory.mktemp("wheel")
    _uv("build", "--wheel", "--out-dir", str(where / "dist"), str(ROOT), cwd=ROOT)
    (wheel,) = (where / "dist").glob("portal-*.whl")
    requirements = where / "requirements.txt"
    _uv(
        "export",
        "--frozen",
        "--no-dev",
        "--no-emit-project",
        "--format",
        "requirements-txt",
        "--output-file",
        str(requirements),
        cwd=ROOT,
    )
    venv = where / "venv"
    _uv("venv", "--python", sys.executable, str(venv), cwd=where)
    python = str(venv / "bin" / "python")
    _uv("pip", "install", "--python", python, "--requirement", str(requirements), cwd=where)
    _uv("pip", "install", "--python", python, "--no-deps", str(wheel), cwd=where)
    return venv / "bin"


@pytest.fixture(scope="module")
def server(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``portal migrate`` then ``portal serve`` of the installed wheel, from an empty folder,
    on a SQLite file of their own; the server's address."""
    workdir = tmp_path_factory.mktemp("elsewhere")
    port = free_port()
    env = {
        **_environment(),
        "PORTAL_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'portal.db'}",
        "PORTAL_SECRET_KEY": SECRET_KEY,
        "PORTAL_BASE_URL": f"http://127.0.0.1:{port}",
        "PORTAL_LOG_LEVEL": "warning",
    }
    portal = str(installed / "portal")
    subprocess.run([portal, "migrate"], cwd=workdir, env=env, check=True, timeout=120)
    log = workdir / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [portal, "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_installed_package_is_not_the_checkout(installed: Path) -> None:
    found = subprocess.run(
        [
            str(installed / "python"),
            "-c",
            "import portal, portal.i18n; print(portal.__file__); print(portal.i18n.TEMPLATES_DIR)",
        ],
        cwd=installed,
        env=_environment(),
        capture_output=True,
        text=True,
        check=True,
    )
    package, templates = (Path(line) for line in found.stdout.splitlines())
    venv = installed.parent
    assert package.is_relative_to(venv)
    assert templates == package.parent / "templates"
    assert (templates / "pages" / "signin.html").is_file()


def test_home_page(server: str) -> None:
    response = httpx.get(f"{server}/")
    assert response.status_code == 200
    assert 'href="/signin"' in response.text
    script = httpx.get(f"{server}/static/vendor/htmx.min.js")  # a file copied from npm
    assert script.status_code == 200
    assert len(script.content) > 10_000


def test_the_networks_icons_built_by_make_assets(server: str) -> None:
    sprite = httpx.get(f"{server}/static/vendor/networks.svg")  # built, not copied, from npm
    assert sprite.status_code == 200
    assert sprite.headers["content-type"].startswith("image/svg+xml")
    assert '<symbol id="net-github"' in sprite.text


def test_sign_in_form_in_english_and_in_french(server: str) -> None:
    english = httpx.get(f"{server}/signin")
    assert english.status_code == 200
    assert '<form method="post" action="/signin"' in english.text
    assert 'type="password"' in english.text
    french = httpx.get(f"{server}/signin", headers={"Accept-Language": "fr"})
    assert "Mot de passe" in french.text


def test_api_reference_with_its_swagger_ui_files(server: str) -> None:
    page = httpx.get(f"{server}/docs")
    assert page.status_code == 200
    assert 'id="swagger-ui"' in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/static/vendor/{asset}" in page.text
        served = httpx.get(f"{server}/static/vendor/{asset}")
        assert served.status_code == 200
        assert len(served.content) > 10_000
    schema = httpx.get(f"{server}/openapi.json")
    assert schema.status_code == 200
    assert schema.json()["paths"]


def test_the_app_manifest_its_icons_the_service_worker_and_the_offline_page(server: str) -> None:
    manifest = httpx.get(f"{server}/manifest.webmanifest")
    assert manifest.status_code == 200
    assert manifest.headers["content-type"] == "application/manifest+json"
    for icon in manifest.json()["icons"]:
        served = httpx.get(f"{server}{icon['src']}")
        assert served.status_code == 200, icon["src"]
        assert served.headers["content-type"].split(";")[0] == icon["type"]
    worker = httpx.get(f"{server}/sw.js")
    assert worker.status_code == 200
    assert worker.headers["content-type"].startswith("text/javascript")
    assert "portal-pages-" in worker.text
    assert "__CACHE_VERSION__" not in worker.text
    assert httpx.get(f"{server}/static/offline.js").status_code == 200
    offline = httpx.get(f"{server}/offline", headers={"Accept-Language": "fr"})
    assert offline.status_code == 200
    assert "Vous êtes hors ligne" in offline.text
