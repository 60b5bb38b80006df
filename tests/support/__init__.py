"""What the tests share: fixtures and helpers, one module a subject.

The fixture modules are pytest plugins, registered for the whole suite by ``pytest_plugins``
in ``tests/conftest.py``; a test asks for their fixtures by name. Helpers are imported:
``from tests.support.request_bodies import vaccination_request_body``.

Fixtures (plugins):

* ``environment`` — the project's folders (``PROJECT_ROOT``, ``VECTORS``), ``require()``
  (skip, or fail under ``CERTDIST_TEST_STRICT=1``, when something outside the project is
  missing) and the ``testdata`` fixture;
* ``databases`` — SQLite and PostgreSQL databases: ``database``, ``migrated_database_url``,
  ``database_url`` (each test once per backend) and single-backend variants;
* ``services`` — the whole service: ``make_services`` (a :class:`ServicesFactory`),
  ``make_sqlite_services``, ``settings``, ``services``;
* ``clients`` — the HTTP application: ``client``, ``auth`` (bearer tokens),
  ``make_client``; ``client_for()`` and ``bearer()`` for services of a test's own;
* ``cli`` — the ``certdist`` command run in-process (``Cli``), ``cli_env``;
* ``delivery`` — the service as the delivery tests want it (fixed ``clock``, sequential
  ids, public URL): ``make_delivery_services``, ``mail``, ``sms``, ``worker``;
* ``smtp`` — a real SMTP server on loopback: ``smtp_server``, ``TlsSmtpServer``;
* ``node_verifiers`` — the independent verifiers from npm (``*_node`` tests);
* ``rendering`` — the PDF ``renderer`` with the shipped fonts, ``require_fonts()``.

Helpers:

* ``request_bodies`` — DIVOC-shaped vaccination and lab-test request bodies;
* ``issuing`` — issuing those through the service (``certify``, ``issue_signed``);
* ``portal`` — the demo family and a neighbour (``seed_portal``), logging in to the portal;
* ``credentials`` — unsigned DIVOC credentials for the renderers;
* ``wallet_samples`` — bundles, signers and issuers of the health-wallet formats (EU DCC,
  SMART Health Cards, FHIR), forged HC1 texts;
* ``verifier_samples`` — QR pictures, signed credentials, the SHC example issuer;
* ``pdf_samples`` — PDFs for the verifier (pictures as pages, certdist's own PDFs);
* ``imaging`` — reading QR codes and text back from images and PDFs;
* ``immutable_cbor`` — decoded CBOR as cbor2 6 hands it out;
* ``digilocker_bodies`` — DigiLocker's XML requests and their HMAC;
* ``oidc_provider`` — a small OpenID Connect provider;
* ``loopback`` — small HTTP servers on 127.0.0.1 (SMS gateways, JWKS, revocation lists);
* ``deployment`` — what the recipes in ``deploy/`` are checked against: real setting names,
  production settings from a container's environment, the image's entry point and commands,
  probe answers, ``certdist init`` run with a recipe's environment.
"""
