"""Import rules of the package: what may import what, no cycles, small modules, public faces.

Every module under ``src/astrid`` is parsed (not imported), and each ``import astrid.X...``
or ``from astrid.X... import ...`` anywhere in it (function bodies and ``TYPE_CHECKING``
blocks included) is an arrow from the module's package to ``X``. A *package* is the first
component after ``astrid.``: a subpackage (``catalog``) or a top-level module (``store``,
``app``, ``cli``). ``from astrid import __version__`` is free to all. `ALLOWED` is the table
docs/architecture.md shows; widening it is a design change, made there first.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

import astrid

SRC = Path(astrid.__file__).parent

#: The longest module allowed, in lines.
MAX_LINES = 600

#: Modules over `MAX_LINES` while they are being split, with why; none may be added.
OVERSIZED: dict[str, str] = {}

#: Foundations any package may use: the error hierarchy, stage timers, atomic file writes.
FOUNDATION = frozenset({"errors", "timing", "atomic_files"})

#: The pure science packages (DESIGN.md): arrays and astropy objects in and out.
SCIENCE = frozenset(
    {"observations", "simulation", "preprocess", "difference", "detection", "objects", "context"}
)

#: Everything that stores, serves or wires: no science package may import these.
SYSTEM = frozenset(
    {"catalog", "store", "config", "pipeline", "service", "api", "web", "app", "cli"}
)

#: Package → the packages it may import, besides `FOUNDATION`.
ALLOWED: dict[str, frozenset[str]] = {
    # foundations
    "errors": frozenset(),
    "timing": frozenset(),
    "roles": frozenset(),
    "config": frozenset({"roles", "observations"}),
    "store": frozenset(),
    # science
    "observations": frozenset(),
    "simulation": frozenset({"observations"}),
    "preprocess": frozenset({"observations"}),
    # (observations: stacking frames into a reference takes them as read, `Image`)
    "difference": frozenset({"preprocess", "observations"}),
    "detection": frozenset({"difference"}),
    "curation": frozenset(),
    "objects": frozenset({"difference"}),
    "context": frozenset({"observations"}),
    "alerts": frozenset({"difference"}),
    # survey alert packets (ZTF, Rubin) read into plain records; bytes in, records out
    "ingest": frozenset(),
    # templates from survey archives, asked for with an `Image`'s WCS; several exposures
    # of one survey (SkyMapper) are proper-coadded with `difference.stack`
    "archives": frozenset({"observations", "difference"}),
    # alert delivery: destinations (files, webhook, e-mail, Kafka); bytes in, outcomes out
    "delivery": frozenset(),
    # offline
    "training": frozenset({"observations", "simulation", "preprocess", "difference", "detection"}),
    "evaluation": frozenset(
        {"observations", "simulation", "preprocess", "difference", "detection"}
    ),
    # storage and wiring
    "catalog": frozenset({"curation", "objects", "roles"}),
    "pipeline": frozenset(
        {
            "observations",
            "simulation",
            "preprocess",
            "difference",
            "detection",
            "evaluation",
            "objects",
            "context",
            "alerts",
            "delivery",
            "ingest",
            "catalog",
            "store",
            "config",
        }
    ),
    # the HTTP side
    "service": frozenset(
        {"difference", "curation", "alerts", "delivery", "catalog", "store", "config", "roles"}
    ),
    "api": frozenset(
        {"observations", "curation", "alerts", "catalog", "store", "pipeline", "service", "roles"}
    ),
    "web": frozenset({"curation", "alerts", "delivery", "catalog", "service", "roles"}),
    "app": frozenset({"catalog", "store", "config", "pipeline", "service", "api", "web"}),
    # the command line
    "cli": frozenset(
        {
            "observations",
            "simulation",
            "preprocess",
            "difference",
            "detection",
            "training",
            "evaluation",
            "objects",
            "context",
            "alerts",
            "ingest",
            "archives",
            "catalog",
            "store",
            "config",
            "pipeline",
            "service",
            "app",
        }
    ),
}

#: Packages whose ``__init__`` names what users import, with ``__all__``.
PUBLIC_FACES = (
    "observations",
    "simulation",
    "preprocess",
    "difference",
    "detection",
    "training",
    "evaluation",
    "curation",
    "objects",
    "alerts",
    "delivery",
    "ingest",
    "catalog",
    "pipeline",
)


def _package_of(path: Path) -> str:
    return path.relative_to(SRC).parts[0].removesuffix(".py")


def _astrid_targets(node: ast.AST) -> list[str]:
    """The astrid packages one import statement names."""
    if isinstance(node, ast.Import):
        modules = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        if node.module == "astrid":
            modules = [f"astrid.{alias.name}" for alias in node.names]
        else:
            modules = [node.module]
    else:
        return []
    return [m.split(".")[1] for m in modules if m.startswith("astrid.")]


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.relative_to(SRC).parts)


def _import_graph() -> dict[str, dict[str, set[str]]]:
    """package → imported package → the modules (relative paths) that import it."""
    graph: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in _modules():
        if path == SRC / "__init__.py":
            continue
        source = _package_of(path)
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            for target in _astrid_targets(node):
                if target != source and target != "__version__":
                    graph[source][target].add(str(path.relative_to(SRC)))
    return graph


GRAPH = _import_graph()


def test_relative_imports_are_not_used() -> None:
    # The graph reads absolute imports only; a relative one would hide an arrow.
    relative = [
        f"{path.relative_to(SRC)}:{node.lineno}"
        for path in _modules()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and node.level > 0
    ]
    assert not relative, relative


def test_every_package_is_in_the_table() -> None:
    packages = {_package_of(p) for p in _modules() if p != SRC / "__init__.py"}
    # Empty placeholders for later stages import nothing and need no row yet.
    missing = {p for p in packages - set(ALLOWED) if GRAPH.get(p)}
    assert not missing, f"add these packages to ALLOWED (and docs/architecture.md): {missing}"


def test_no_two_packages_import_each_other() -> None:
    mutual = sorted(
        f"{a} ↔ {b}: {sorted(GRAPH[a][b])} / {sorted(GRAPH[b][a])}"
        for a in GRAPH
        for b in GRAPH[a]
        if a < b and a in GRAPH.get(b, {})
    )
    assert not mutual, mutual


def test_packages_import_only_what_the_table_allows() -> None:
    wrong = {
        f"{source} → {target}": sorted(modules)
        for source, targets in GRAPH.items()
        for target, modules in targets.items()
        if target not in ALLOWED.get(source, frozenset()) | FOUNDATION
    }
    assert not wrong, wrong


def test_the_table_keeps_the_design_boundaries() -> None:
    # The table may change; these lines of DESIGN.md may not, without changing it too.
    for package in SCIENCE | {"curation", "objects", "training", "evaluation", "alerts", "ingest"}:
        assert not ALLOWED[package] & SYSTEM, package
    assert not ALLOWED["catalog"] & {"pipeline", "service", "api", "web", "app", "cli"}
    assert not ALLOWED["detection"] & {"training", "evaluation"}
    assert not ALLOWED["pipeline"] & {"service", "api", "web", "app", "cli", "training"}
    assert not ALLOWED["service"] & {"api", "web", "app", "cli"}
    assert "web" not in ALLOWED["api"] and "api" not in ALLOWED["web"]
    front_ends = {p for p, allowed in ALLOWED.items() if allowed & {"api", "web"}}
    assert front_ends == {"app"}, "only astrid.app builds the app from both front ends"


def test_torch_is_imported_only_by_training() -> None:
    # detection runs the exported models with onnxruntime; PyTorch is the ``train`` extra.
    importers = sorted(
        str(path.relative_to(SRC))
        for path in _modules()
        for node in ast.walk(ast.parse(path.read_text()))
        if (
            isinstance(node, ast.Import)
            and any(a.name.split(".")[0] == "torch" for a in node.names)
        )
        or (isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "torch")
    )
    assert importers, "no PyTorch import found: is the scan broken?"
    assert all(_package_of(SRC / p) == "training" for p in importers), importers


def test_no_module_is_over_the_line_limit() -> None:
    lengths = {str(p.relative_to(SRC)): len(p.read_text().splitlines()) for p in _modules()}
    over = {p: n for p, n in lengths.items() if n > MAX_LINES and p not in OVERSIZED}
    assert not over, f"split these modules (≤ {MAX_LINES} lines): {over}"


#: Public names defined in more than one module on purpose, with why.
SHARED_NAMES = {
    "install": {"api/router.py", "web/site.py"},  # each front end installs itself on the app
}


def test_every_public_name_is_defined_once() -> None:
    # A name in a module's __all__ that the module defines (not one it re-exports).
    where: dict[str, set[str]] = defaultdict(set)
    for path in _modules():
        tree = ast.parse(path.read_text(), filename=str(path))
        listed = [
            ast.literal_eval(node.value)
            for node in tree.body
            if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
        ]
        defined = {
            node.name
            for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        } | {
            target.id
            for node in tree.body
            if isinstance(node, (ast.Assign, ast.AnnAssign))
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(target, ast.Name)
        }
        for name in set(listed[0] if listed else ()) & defined:
            where[name].add(str(path.relative_to(SRC)))
    twice = {n: sorted(p) for n, p in where.items() if len(p) > 1 and p != SHARED_NAMES.get(n)}
    assert not twice, f"one name per concept: {twice}"


@pytest.mark.parametrize("package", PUBLIC_FACES)
def test_public_face_lists_what_it_exports(package: str) -> None:
    # Read, not imported: names that need PyTorch or matplotlib are bound on first use.
    init = SRC / package / "__init__.py"
    tree = ast.parse(init.read_text(), filename=str(init))
    bound = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    listed = [
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
    ]
    assert len(listed) == 1, f"{init}: no __all__"
    names = listed[0]
    assert len(set(names)) == len(names), f"{init}: __all__ repeats a name"
    assert not set(names) - bound, f"{init}: __all__ names unknown names {set(names) - bound}"
