"""Imports flow one way: auth <- retail <- purchasing <- alerts <- notifications <- delivery, and
the shared modules at the bottom import no feature. Checked twice: every import statement in the source
(function-level ones too), and every module imported in a fresh interpreter, feature by feature
in that order, must not pull in a higher feature."""
import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULES = ROOT / "modules"
FEATURES = ["auth", "retail", "purchasing", "alerts", "notifications", "delivery"]  # lowest first
SHARED = ["config", "extensions", "errors", "dialect", "validation", "timeutil", "periodic", "outage", "headers"]


def module_name(path, root=ROOT):
    return ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")


def feature_modules(feature):
    return sorted(module_name(p) for p in (MODULES / feature).rglob("*.py"))


def imported_names(path, root=ROOT):
    """Every module an import statement in `path` names, made absolute."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            names.append(target)
            names += [f"{target}.{alias.name}" for alias in node.names]
    return names


def feature_of(name):
    parts = name.split(".")
    if parts[0] == "modules" and len(parts) > 1 and parts[1] in FEATURES:
        return parts[1]
    return None


def upward_imports(path, allowed, root=ROOT):
    return sorted({name for name in imported_names(path, root)
                   if feature_of(name) is not None and feature_of(name) not in allowed})


@pytest.mark.parametrize("feature", FEATURES)
def test_no_import_statement_points_up(feature):
    allowed = FEATURES[:FEATURES.index(feature) + 1]
    found = {str(p.relative_to(ROOT)): upward_imports(p, allowed) for p in sorted((MODULES / feature).rglob("*.py"))}
    assert {k: v for k, v in found.items() if v} == {}


@pytest.mark.parametrize("name", SHARED)
def test_shared_modules_import_no_feature(name):
    assert upward_imports(MODULES / f"{name}.py", allowed=[]) == []


@pytest.mark.parametrize("feature", FEATURES)
def test_importing_a_feature_loads_no_higher_feature(feature):
    lower = FEATURES[:FEATURES.index(feature) + 1]
    names = [m for f in lower for m in feature_modules(f)]
    script = (
        "import importlib, json, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('modules.'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    higher = FEATURES[FEATURES.index(feature) + 1:]
    assert [m for m in loaded if feature_of(m) in higher] == []


def test_the_checker_sees_an_upward_import(tmp_path):
    """The check can fail: the import that used to break the app, hidden in a function, is caught."""
    probe = tmp_path / "modules" / "retail" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text("def changed():\n    from ..notifications.alerts import on_stock_change\n")
    assert upward_imports(probe, ["auth", "retail"], root=tmp_path) == [
        "modules.notifications.alerts", "modules.notifications.alerts.on_stock_change"]
    assert upward_imports(probe, FEATURES, root=tmp_path) == []
