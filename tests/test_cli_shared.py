"""The pieces `orbridge run` and `orbridge serve` share, and the one CLIError printer (issue #12 item 6)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from orbridge.cli.errors import CLIError, report

CLI = Path(__file__).resolve().parent.parent / "cli"


def test_one_printer_for_cli_errors(capsys):
    assert report(CLIError("cannot do it", "do this instead", code=3)) == 3
    assert capsys.readouterr().err == "orbridge: cannot do it\n  fix: do this instead\n"
    assert report(CLIError("no fix given")) == 1
    assert capsys.readouterr().err == "orbridge: no fix given\n"


def test_main_does_not_import_entry_at_module_level():
    """entry.py loads main.py for everything but `run`; main.py importing entry at module level (its old
    `__main__` block) made the two a circle."""
    tree = ast.parse((CLI / "main.py").read_text())
    top_level = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                 and not any(n in ast.walk(f) for f in tree.body if isinstance(f, ast.FunctionDef))]
    assert "entry" not in {n.module for n in top_level}


def test_python_m_main_still_runs_the_app(tmp_path):
    r = subprocess.run([sys.executable, "-m", "orbridge.cli.main", "--version"], capture_output=True, text=True,
                       timeout=60, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("orbridge "), r.stderr
