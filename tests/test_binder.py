"""The Binder environment (binder/) must pin exactly what requirements.txt pins, apart from torch's CPU build."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line or line.startswith("-"):
            continue
        name, _, version = line.partition("==")
        assert version, f"{path.name}: {line!r} is not pinned with =="
        found[name.lower().replace("_", "-")] = version
    return found


def test_binder_pins_match_requirements():
    main, binder = pins(ROOT / "requirements.txt"), pins(
        ROOT / "binder" / "requirements.txt"
    )
    assert binder.pop("torch") == main.pop("torch") + "+cpu"
    assert binder == main


def test_binder_uses_the_cpu_index_and_installs_the_library():
    text = (ROOT / "binder" / "requirements.txt").read_text()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in text
    assert (
        "-e ." not in text
    )  # the library is installed by postBuild, after the repository is copied in
    post_build = ROOT / "binder" / "postBuild"
    assert "pip install --no-deps -e ." in post_build.read_text()
    assert post_build.stat().st_mode & 0o111, "postBuild must be executable"
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"


def test_requirements_end_with_the_library():
    lines = [
        ln for ln in (ROOT / "requirements.txt").read_text().splitlines() if ln.strip()
    ]
    assert lines[-1] == "-e ."
