"""Imports flow one way: auth <- retail <- purchasing <- alerts <- notifications <- delivery, and
the shared modules at the bottom import no feature. Checked twice: every import statement in the source
(function-level ones too), and every module imported in a fresh interpreter, feature by feature
in that order, must not pull in a higher feature. And the tests' own rule: no test module imports
another test module or a conftest, nor a fixture by name (fixtures come from `pytest_plugins`)."""
import ast
import importlib.metadata
import json
import re
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


# --- the tests' own imports ---------------------------------------------------------------------

def suite_files(root=ROOT):
    return sorted([*(root / "tests").rglob("*.py"), *root.glob("test_*.py")])


def is_test_module(name):
    """`tests.test_x`, `tests.conftest`, `test_stock_monitor` (or a name imported from one)."""
    parts = name.split(".")
    if parts[0] != "tests":
        return parts[0] == "conftest" or parts[0].startswith("test_")
    return len(parts) > 1 and (parts[1] == "conftest" or parts[1].startswith("test_"))


def support_fixtures(root=ROOT):
    """Every fixture defined in tests/support/, as its module's dotted name plus the fixture's."""
    found = set()
    for path in (root / "tests" / "support").glob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and any("fixture" in ast.unparse(d) for d in node.decorator_list):
                found.add(f"{module_name(path, root)}.{node.name}")
    return found


def rule_breaking_imports(path, root=ROOT, fixtures=None):
    """Imports of `path` that name a test module, a conftest or a fixture of tests/support."""
    fixtures = support_fixtures(root) if fixtures is None else fixtures
    return sorted({name for name in imported_names(path, root) if is_test_module(name) or name in fixtures})


def test_no_test_imports_another_test_module_a_conftest_or_a_fixture():
    fixtures = support_fixtures()
    assert fixtures >= {"tests.support.app.app", "tests.support.shops.shop", "tests.support.browser.browser"}
    found = {str(p.relative_to(ROOT)): rule_breaking_imports(p, fixtures=fixtures) for p in suite_files()}
    assert {k: v for k, v in found.items() if v} == {}


def test_the_checker_sees_a_test_importing_another(tmp_path):
    """The check can fail: what the suite used to do, at module level and inside a function, is caught."""
    support = tmp_path / "tests" / "support"
    support.mkdir(parents=True)
    (support / "shops.py").write_text("import pytest\n\n\n@pytest.fixture\ndef shop():\n    return 1\n")
    probe = tmp_path / "tests" / "test_probe.py"
    probe.write_text("from tests.conftest import base_config\n"
                     "from tests.support.shops import shop  # noqa: F401\n"
                     "def test_x():\n    from .test_api_tokens import new_token\n")
    assert rule_breaking_imports(probe, root=tmp_path) == [
        "tests.conftest", "tests.conftest.base_config", "tests.support.shops.shop",
        "tests.test_api_tokens", "tests.test_api_tokens.new_token"]
    probe.write_text("from tests.support.shops import ApiClient\nfrom tests.support.app import base_config\n")
    assert rule_breaking_imports(probe, root=tmp_path) == []


# --- what the code imports is declared ------------------------------------------------------------

def third_party_imports(paths):
    """Top-level names of what `paths` import from outside the standard library and this repository."""
    own = {"modules", "tests", "bench", "app", "conftest", "test_stock_monitor"}
    found = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                found.add(node.module.split(".")[0])
    return sorted(name for name in found if name not in sys.stdlib_module_names and name not in own)


def declared(requirements):
    """Distribution names a requirements file pins (following -r), normalised as PyPI does."""
    names = set()
    for line in (ROOT / requirements).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-r "):
            names |= declared(line[3:].strip())
        elif line:
            names.add(re.split(r"[\[=<>~! ]", line)[0].lower().replace("_", "-"))
    return names


@pytest.mark.parametrize("requirements, paths", [
    ("requirements.txt", lambda: [ROOT / "app.py", *MODULES.rglob("*.py")]),
    ("requirements-dev.txt", lambda: [*suite_files(), *(ROOT / "bench").rglob("*.py")]),
], ids=["app", "tests"])
def test_requirements_declare_every_package_imported(requirements, paths):
    distributions = importlib.metadata.packages_distributions()
    missing = {name: distributions.get(name) for name in third_party_imports(paths())
               if not {d.lower().replace("_", "-") for d in distributions.get(name, [name])} & declared(requirements)}
    assert missing == {}


ONE_PER_PROCESS = {"browser", "pg_cluster", "sqlite_template"}  # tests/support's session resources


def shadowing_fixtures(path):
    """Fixtures `path` defines under the name of a session resource of tests/support."""
    return sorted(node.name for node in ast.walk(ast.parse(path.read_text()))
                  if isinstance(node, ast.FunctionDef) and node.name in ONE_PER_PROCESS
                  and any("fixture" in ast.unparse(d) for d in node.decorator_list))


def test_one_browser_and_one_cluster_per_process():
    """A second Chromium (or cluster) made by a test module: Playwright's sync API refuses a second
    instance in one thread, and each costs seconds. Test modules use tests/support's."""
    found = {str(p.relative_to(ROOT)): shadowing_fixtures(p) for p in suite_files() if p.parent.name != "support"}
    assert {k: v for k, v in found.items() if v} == {}
    assert shadowing_fixtures(ROOT / "tests" / "support" / "browser.py") == ["browser"]  # the check sees one
