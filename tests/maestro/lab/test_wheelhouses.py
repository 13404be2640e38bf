"""The lab's offline wheelhouses: which lines of an exported lock the Debian hosts need, and the pip options that
fetch them for the hosts' Python rather than this machine's (no servers, no root)."""

from maestro.lab.wheelhouses import HostPython, unmarked

LOCK = """\
gunicorn==26.2.0 ; sys_platform != 'win32'
pywin32==312 ; sys_platform == 'win32'
tzdata==2026.6 ; sys_platform == 'emscripten' or sys_platform == 'win32'
async-timeout==5.0.1 ; python_full_version < '3.11.3'
uvloop==0.22.1 ; platform_system != 'Windows'
mlflow==3.17.2
# a comment
-e ./app
"""


def test_lines_the_hosts_python_needs_are_kept_without_markers() -> None:
    # `!= 'win32'` is needed on Linux (the lab once shipped MLflow without gunicorn because of this line);
    # async-timeout is needed by Debian 12's Python 3.11.2, and not by Debian 13's 3.13.
    assert unmarked(LOCK, "3.11.2") == ["gunicorn==26.2.0", "async-timeout==5.0.1", "uvloop==0.22.1", "mlflow==3.17.2"]
    assert unmarked(LOCK, "3.13.5") == ["gunicorn==26.2.0", "uvloop==0.22.1", "mlflow==3.17.2"]


def test_lines_only_for_other_systems_are_dropped() -> None:
    kept = unmarked(LOCK, "3.13.5")
    assert not any(line.startswith(("pywin32", "tzdata", "-e", "#")) for line in kept)


def test_pip_fetches_binary_wheels_for_the_hosts_interpreter_and_c_library() -> None:
    args = HostPython(version="3.13.5", glibc="2.41").target_args()
    assert args[:7] == ["--only-binary=:all:", "--python-version", "3.13", "--implementation", "cp", "--abi", "cp313"]
    platforms = [args[i + 1] for i, a in enumerate(args) if a == "--platform"]
    # Every manylinux level up to the hosts' glibc, none above it (a wheel for a newer glibc would not load there).
    assert platforms[0] == "manylinux_2_41_x86_64" and "manylinux_2_17_x86_64" in platforms
    assert "manylinux_2_42_x86_64" not in platforms and "manylinux2014_x86_64" in platforms
    bookworm = HostPython(version="3.11.2", glibc="2.36").target_args()
    assert "cp311" in bookworm and "manylinux_2_37_x86_64" not in bookworm
