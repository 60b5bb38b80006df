"""Opening a CMS SignedData with the ``openssl`` command, independently of the code that made
it: the signature is checked (not the signer's chain) and the content returned."""

from __future__ import annotations

import base64
import shutil
import subprocess

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs7

from tests.support.environment import require


def open_signed(cms_base64: str) -> tuple[bytes, list[x509.Certificate]]:
    """The signed content and the certificates the CMS carries."""
    openssl = shutil.which("openssl")
    require(openssl, "the openssl command checks CMS signatures independently")
    assert openssl is not None
    der = base64.b64decode(cms_base64, validate=True)
    done = subprocess.run(
        [openssl, "cms", "-verify", "-noverify", "-binary", "-inform", "DER"],
        input=der,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout, pkcs7.load_der_pkcs7_certificates(der)
