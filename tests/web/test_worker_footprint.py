"""What a server worker loads before its first request.

Every worker process pays for each library it imports (a few MB each, times workers times
processes), so libraries that only some requests need are imported when those requests
come: pyld (~10 MB) canonicalises DIVOC credentials only when one is signed or verified,
Alembic only migrates (the parent process did), Pillow and pdfium read uploads to the
verifier.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from certdist.config import Settings
from certdist.wiring import build_services

LOADED_ON_DEMAND = ("pyld", "alembic", "mako", "PIL", "pypdfium2", "redis")

_WORKER = """
import json, sys
from certdist.web.app import app_from_environment
app_from_environment()
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_a_worker_starts_without_the_libraries_only_some_requests_need(tmp_path: Path) -> None:
    build_services(Settings(data_dir=tmp_path)).close()  # what `certdist serve` does first
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTDIST_")}
    env["CERTDIST_DATA_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", _WORKER],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    loaded = set(json.loads(result.stdout.splitlines()[-1]))
    assert "certdist" in loaded
    assert "fastapi" in loaded
    assert loaded.isdisjoint(LOADED_ON_DEMAND), sorted(loaded & set(LOADED_ON_DEMAND))
