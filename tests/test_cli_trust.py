"""``certdist trust import``: a foreign EU DCC is unknown until its issuer's trust list is
imported, then ``certdist verify`` says valid; a malformed list is exit 2 naming the entry."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from certdist.cli import main
from certdist.wiring import Services
from tests.support.foreign_issuer import foreign_issuer


def run(cli_env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=cli_env)


def test_import_then_verify(cli_env: dict[str, str], services: Services, tmp_path: Path) -> None:
    foreign = foreign_issuer(services.clock.now())
    certificate = tmp_path / "hc1.txt"
    certificate.write_text(foreign.hc1)
    before = run(cli_env, "verify", str(certificate))
    assert before.exit_code == 1, before.output
    assert "kid" in before.stdout  # unknown-key: "no trusted key has the kid …"

    trust_list = tmp_path / "trustlist.json"
    trust_list.write_text(json.dumps(foreign.eu_trust_list()))
    imported = run(cli_env, "trust", "import", str(trust_list), "--format", "eu-dcc")
    assert imported.exit_code == 0, imported.output
    assert "imported 'eu-dcc': 1 EU DCC document signer(s)" in imported.stdout

    after = run(cli_env, "verify", str(certificate))
    assert after.exit_code == 0, after.output
    assert after.stdout.startswith("VALID: ")


def test_a_malformed_list_is_exit_2(cli_env: dict[str, str], tmp_path: Path) -> None:
    trust_list = tmp_path / "trustlist.json"
    trust_list.write_text(json.dumps([{"certificateType": "DSC", "rawData": "@@"}]))
    result = run(cli_env, "trust", "import", str(trust_list), "--format", "eu-dcc")
    assert result.exit_code == 2
    assert "entry 0.rawData is not a base64 DER (or PEM) X.509 certificate" in result.stderr
