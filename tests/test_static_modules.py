"""The pages' ES modules, without a browser: each page's module graph resolves to files
that exist and are package data, every imported name is exported, and no module builds
HTML from strings (lit-html templates escape by construction). A renamed module or
export would otherwise show only as a blank panel in the browser."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).parent.parent
STATIC = ROOT / "lawline" / "web" / "static"
PAGES = ["console.html", "cases.html", "terminal.html", "supervisor.html", "login.html"]
IMPORT = re.compile(r'^(?:import|export)\s*(?:\{([^}]*)\}\s*from\s*)?"([^"]+)"', re.M)
EXPORT = re.compile(r"^export\s+(?:async\s+)?(?:function|const|let|class)\s+([\w$]+)", re.M)


def exported(source: str) -> set[str]:
    names = set(EXPORT.findall(source))
    for group in re.findall(r"^export\s*\{([^}]*)\}", source, re.M):
        names |= {n.strip().split(" as ")[-1] for n in group.split(",") if n.strip()}
    return names


def packaged(path: str, glob: str) -> bool:
    """Whether setuptools' package-data `glob` takes `path` (a `*` stays in its folder)."""
    parts, pattern = path.split("/"), glob.split("/")
    return len(parts) == len(pattern) and all(map(fnmatch, parts, pattern))


def module_graph(entry: Path) -> set[Path]:
    seen: set[Path] = set()
    todo = [entry]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        source = module.read_text()
        if "vendor" in module.parts:  # minified, as published: only its files must be there
            for target in re.findall(r'from\s*"([^"]+)"', source):
                path = (module.parent / target).resolve()
                assert path.is_file(), f"{module.relative_to(STATIC)} imports missing {target}"
                todo.append(path)
            continue
        for names, target in IMPORT.findall(source):
            assert target.startswith("."), (module, target)  # no bare imports: no build step
            path = (module.parent / target).resolve()
            assert path.is_file(), f"{module.relative_to(STATIC)} imports missing {target}"
            if "vendor" not in path.parts:
                wanted = {n.strip().split(" as ")[0] for n in names.split(",") if n.strip()}
                missing = wanted - exported(path.read_text())
                assert not missing, f"{module.relative_to(STATIC)}: {target} exports no {missing}"
            todo.append(path)
    return seen


def test_every_pages_modules_resolve_and_ship_in_the_package() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["lawline.web"]
    for page in PAGES:
        html = (STATIC / page).read_text()
        [src] = re.findall(r'<script type="module" src="/static/([^"]+)"></script>', html)
        for module in module_graph((STATIC / src).resolve()):
            relative = module.relative_to(STATIC.parent).as_posix()
            assert any(packaged(relative, g) for g in globs), relative
            if "vendor" not in module.parts:
                assert "innerHTML" not in module.read_text(), relative
