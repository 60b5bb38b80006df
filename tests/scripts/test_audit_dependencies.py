"""scripts/audit-dependencies: how pip-audit's report and the allow-list are judged."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from types import ModuleType

import pytest

from tests.support.environment import PROJECT_ROOT


def load_script() -> ModuleType:
    path = PROJECT_ROOT / "scripts" / "audit-dependencies"
    loader = importlib.machinery.SourceFileLoader("audit_dependencies", str(path))
    spec = importlib.util.spec_from_loader("audit_dependencies", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the script is executed.
    sys.modules[spec.name] = module
    loader.exec_module(module)
    return module


audit = load_script()

REPORT = {
    "dependencies": [
        {"name": "jinja2", "version": "3.1.2", "vulns": [
            {"id": "GHSA-h5c8-rqwp-cp95", "aliases": ["CVE-2024-22195"], "fix_versions": ["3.1.3"]},
        ]},
        {"name": "cbor2", "version": "5.9.0", "vulns": []},
        {"name": "private-thing", "skip_reason": "Dependency not found on PyPI"},
    ]
}  # fmt: skip


def test_a_vulnerability_not_on_the_allow_list_blocks() -> None:
    outcome = audit.parse_report(REPORT)
    blocking, used = audit.judge(outcome, {})
    assert [f.vuln_id for f in blocking] == ["GHSA-h5c8-rqwp-cp95"]
    assert used == set()
    assert outcome.audited == 2
    assert outcome.unaudited == ["private-thing: Dependency not found on PyPI"]


@pytest.mark.parametrize("listed", ["GHSA-h5c8-rqwp-cp95", "CVE-2024-22195"])
def test_the_allow_list_excuses_a_vulnerability_by_id_or_alias(listed: str) -> None:
    blocking, used = audit.judge(audit.parse_report(REPORT), {listed: "sandbox not used"})
    assert blocking == []
    assert used == {listed}


def test_allow_list_lines_need_a_reason() -> None:
    text = "# comment\n\nGHSA-aaaa-bbbb-cccc  templates are ours, never a user's  # until 2027\n"
    assert audit.read_allowlist(text) == {
        "GHSA-aaaa-bbbb-cccc": "templates are ours, never a user's"
    }
    with pytest.raises(ValueError, match="line 1: CVE-2020-1 needs a reason"):
        audit.read_allowlist("CVE-2020-1\n")


def test_the_committed_allow_list_is_well_formed() -> None:
    audit.read_allowlist((PROJECT_ROOT / "audit-allowlist.txt").read_text())
