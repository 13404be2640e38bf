"""The lab's offline wheelhouses: which lines of an exported lock the Debian hosts need (no servers, no root)."""

from maestro.lab.wheelhouses import unmarked

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


def test_lines_linux_hosts_need_are_kept_without_markers() -> None:
    kept = unmarked(LOCK)
    # `!= 'win32'` is needed on Linux (the lab once shipped MLflow without gunicorn because of this line);
    # async-timeout is needed by the hosts' Python 3.11.2 even when this machine runs a later 3.11.
    assert kept == ["gunicorn==26.2.0", "async-timeout==5.0.1", "uvloop==0.22.1", "mlflow==3.17.2"]


def test_lines_only_for_other_systems_are_dropped() -> None:
    kept = unmarked(LOCK)
    assert not any(line.startswith(("pywin32", "tzdata", "-e", "#")) for line in kept)
