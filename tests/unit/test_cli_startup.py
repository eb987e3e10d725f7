"""``newscrawl --help`` stays light: it imports none of the heavy libraries a command may need
(their cost is measured in bench/cli_startup.py; here only what is imported is checked)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("sqlalchemy", "alembic", "scrapy", "twisted", "numpy", "trafilatura", "lxml", "jinja2")


def test_help_imports_no_heavy_library() -> None:
    probe = (
        "import contextlib, io, json, sys\n"
        "from crawler.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    code = main(['--help'])\n"
        f"print(json.dumps([code, sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})]))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    code, heavy = json.loads(done.stdout)
    assert code == 0
    assert heavy == []
