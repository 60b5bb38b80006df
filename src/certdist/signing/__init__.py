"""Signing layer: keys, local JSON-LD contexts and DIVOC-compatible linked-data proofs."""

from certdist.signing.contexts import ContextLoader, default_loader
from certdist.signing.keys import (
    KeyAlgorithm,
    KeyFile,
    KeyStore,
    KeyUse,
    PrivateKey,
    PublicKey,
    PublicKeyInfo,
    SigningKey,
    default_key_id,
)
from certdist.signing.ldproof import (
    CredentialSigner,
    KeyResolver,
    ProofType,
    sign_credential,
    verify_credential,
)

__all__ = [
    "ContextLoader",
    "CredentialSigner",
    "KeyAlgorithm",
    "KeyFile",
    "KeyResolver",
    "KeyStore",
    "KeyUse",
    "PrivateKey",
    "ProofType",
    "PublicKey",
    "PublicKeyInfo",
    "SigningKey",
    "default_key_id",
    "default_loader",
    "sign_credential",
    "verify_credential",
]
