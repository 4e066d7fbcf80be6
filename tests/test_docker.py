"""docker/Dockerfile, read as text: no Docker engine runs where the tests do.

The image is built from the locked versions, runs as a user of its own, and receives nothing
from the build stages but the virtualenv of the wheel.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "docker" / "Dockerfile"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def arguments(self, keyword: str) -> list[str]:
        return [rest for word, rest in self.instructions if word == keyword]


def _instructions(text: str) -> list[tuple[str, str]]:
    """Each instruction as (keyword, the rest), with continued lines joined and comments gone."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), " ".join(rest.split())))
    return found


def _stages(text: str) -> list[Stage]:
    stages: list[Stage] = []
    for keyword, rest in _instructions(text):
        if keyword == "FROM":
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        elif stages:
            stages[-1].instructions.append((keyword, rest))
    return stages


def _copy_sources(arguments: str) -> tuple[str | None, list[str]]:
    """The stage a COPY takes from (None for the build context) and its sources."""
    words = shlex.split(arguments)
    options = [word for word in words if word.startswith("--")]
    paths = [word for word in words if not word.startswith("--")]
    origin = next((o.split("=", 1)[1] for o in options if o.startswith("--from=")), None)
    return origin, paths[:-1]


STAGES = _stages(DOCKERFILE.read_text())
FINAL = STAGES[-1]


def test_the_image_runs_as_a_user_that_is_not_root() -> None:
    users = FINAL.arguments("USER")
    assert users, "the image has no USER"
    assert users[-1].split(":")[0] not in {"root", "0"}
    keywords = [word for word, _ in FINAL.instructions]
    assert keywords.index("USER") < keywords.index("CMD")


def test_the_wheel_is_built_from_the_lock() -> None:
    (build,) = [stage for stage in STAGES if any("uv build" in r for r in stage.arguments("RUN"))]
    copied = [source for rest in build.arguments("COPY") for source in _copy_sources(rest)[1]]
    assert "uv.lock" in copied
    assert "hatch_build.py" in copied  # without it the wheel has no templates
    runs = " ".join(build.arguments("RUN"))
    assert "--frozen" in runs
    assert "--require-hashes" in runs
    assert "--no-deps dist/portal-" in runs


def test_the_image_receives_only_the_virtualenv_from_the_build() -> None:
    copies = [_copy_sources(rest) for rest in FINAL.arguments("COPY")]
    assert copies == [("build", ["/opt/portal"])]
    assert all(stage.base == FINAL.base for stage in STAGES if stage.name == "build")
    tools = re.compile(r"\b(uv|npm|node|gcc|cc|make|apt-get|pip)\b")
    for command in FINAL.arguments("RUN"):
        assert not tools.search(command), command
    assert not FINAL.base.startswith("node")


def test_the_image_migrates_then_serves() -> None:
    (command,) = FINAL.arguments("CMD")
    text = " ".join(re.findall(r'"([^"]*)"', command))
    assert re.search(r"portal migrate && exec portal serve --host 0\.0\.0\.0", text), text


def test_the_build_context_holds_what_the_dockerfile_copies() -> None:
    ignored = [
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for stage in STAGES:
        for rest in stage.arguments("COPY"):
            origin, sources = _copy_sources(rest)
            if origin is not None:
                continue
            for source in sources:
                path = source.rstrip("/")
                assert (ROOT / path).exists(), path
                parts = Path(path).parts
                prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
                hits = [p for p in ignored for x in prefixes if fnmatch.fnmatch(x, p)]
                assert not hits, f"{path} is left out of the build context by {hits}"


def test_the_image_builds_with_the_makefiles_uv() -> None:
    (makefile,) = re.findall(r"^UV_VERSION\s*:=\s*(\S+)$", (ROOT / "Makefile").read_text(), re.M)
    (dockerfile,) = re.findall(r"^ARG UV_VERSION=(\S+)$", DOCKERFILE.read_text(), re.M)
    assert dockerfile == makefile


def test_the_image_serves_the_vendor_files_the_makefile_copies() -> None:
    """The two lists of files taken from node_modules stay one list: a file added to one
    alone would be missing, without an error, from the image or from `make run`."""

    def copied(path: Path) -> set[str]:
        return set(re.findall(r"node_modules/\S+\.(?:js|css)\b", path.read_text()))

    assert copied(DOCKERFILE) == copied(ROOT / "Makefile") != set()


def test_the_image_builds_the_networks_sprite_as_the_makefile_does() -> None:
    """The sprite of the networks' icons is made by the same script, from the same npm
    package, into the same vendor file, before the wheel that carries it is built."""
    script = re.compile(r"-m portal\.web\.icons (\S+) (\S+)")
    (made,) = script.findall((ROOT / "Makefile").read_text())
    assert made == ("node_modules/simple-icons/icons", "$(VENDOR)/networks.svg")
    (build,) = [stage for stage in STAGES if any("uv build" in r for r in stage.arguments("RUN"))]
    runs = build.arguments("RUN")
    (at,) = [i for i, command in enumerate(runs) if script.search(command)]
    (icons, output) = script.findall(runs[at])[0]
    assert output == "portal/web/static/vendor/networks.svg"
    assert at < next(i for i, command in enumerate(runs) if "uv build" in command)
    (assets,) = [stage for stage in STAGES if stage.name == "assets"]
    moved = " ".join(assets.arguments("RUN"))
    assert "mv node_modules/simple-icons/icons simple-icons" in moved
    copies = [_copy_sources(rest) for rest in build.arguments("COPY")]
    assert ("assets", ["/build/simple-icons/"]) in copies
    assert icons == "/tmp/simple-icons"
