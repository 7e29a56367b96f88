"""The conda environment of the rules (`--sdm conda`) pins what pyproject.toml pins."""

import re
import tomllib

import yaml


def pins(requirements):
    """{name: version} of `name==version` lines (names normalised as pip does)."""
    found = {}
    for line in requirements:
        name, sep, version = line.partition("==")
        assert sep, f"not pinned exactly: {line!r}"
        found[re.sub(r"[-_.]+", "-", name.strip().lower())] = version.strip()
    return found


def test_conda_environment_pins_the_same_versions_as_pyproject(repo):
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    environment = yaml.safe_load((repo / "envs/berl.yaml").read_text())
    pip = next(item["pip"] for item in environment["dependencies"] if isinstance(item, dict))
    assert pins(pip) == pins(project["dependencies"])
    python = next(item for item in environment["dependencies"] if isinstance(item, str) and item.startswith("python="))
    low, high = re.match(r">=(\d+\.\d+),<(\d+\.\d+)", project["requires-python"]).groups()
    version = tuple(map(int, python.split("=")[1].split(".")))
    assert tuple(map(int, low.split("."))) <= version < tuple(map(int, high.split(".")))


def test_every_rule_names_an_existing_conda_environment(repo):
    for rules in sorted((repo / "workflow/rules").glob("*.smk")):
        blocks = re.split(r"^rule ", rules.read_text(), flags=re.MULTILINE)[1:]
        for block in blocks:
            name = block.split(":")[0]
            environment = re.search(r'^\s+conda:\s*\n\s+"([^"]+)"', block, flags=re.MULTILINE)
            assert environment, f"rule {name} ({rules.name}) has no conda environment"
            assert (rules.parent / environment.group(1)).resolve().is_file(), (name, environment.group(1))
