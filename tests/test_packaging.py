import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_subpackage_ships_in_the_wheel():
    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for path in (ROOT / "auditor").rglob("__init__.py")
        if "__pycache__" not in path.parts
    }
    assert declared == found | {"auditor.templates"}


def test_templates_are_package_data():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    shipped = set()
    for pattern in data["auditor.templates"]:
        shipped |= {p.name for p in (ROOT / "reports" / "templates").glob(pattern)}
    on_disk = {p.name for p in (ROOT / "reports" / "templates").iterdir() if p.suffix in (".j2", ".css", ".js")}
    assert on_disk and on_disk <= shipped
