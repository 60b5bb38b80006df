# The two Quick start commands (README): `make run` and `make test`.
# Both install everything they need first, so they work on a fresh machine.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# uv installs exactly what uv.lock names. It comes from PyPI, pinned, into a folder of its own
# (.tools), so nothing is installed system-wide and every machine uses the same uv.
UV_VERSION := 0.13.9
UV := .tools/bin/uv

.PHONY: bench-requests run test lint system-deps bench clean messages test-deps

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check 'uv==$(UV_VERSION)'

$(STAMP): pyproject.toml uv.lock $(UV)
	$(UV) sync --locked --python $(PYTHON) --quiet
	touch $(STAMP)

system-deps:
	@scripts/install-system-deps

# No system packages: the PDF fonts ship inside the package (src/certdist/formats/pdf/fontfiles).
run: $(STAMP)
	$(BIN)/certdist serve --demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench deploy
	$(BIN)/ruff format --check src tests bench deploy
	$(BIN)/mypy
	$(BIN)/lint-imports

# With the coverage of src/certdist: the report lists the files not fully covered, and the run
# fails below the floor, fail_under in pyproject.toml ([tool.coverage.report]).
test: $(STAMP) system-deps lint
	$(BIN)/pytest -n 2 --dist loadfile --cov --cov-report=term:skip-covered

# The suite against the lowest and the newest releases pyproject.toml allows (.venv-lowest,
# .venv-newest); `make test-deps SETS=lowest` for one of them.
test-deps: $(UV)
	scripts/test-dependency-sets $(SETS)

bench: $(STAMP)
	@scripts/install-system-deps --bench
	$(BIN)/python bench/bench_issuance.py
	$(BIN)/python bench/bench_render.py
	$(BIN)/python bench/bench_distribution.py
	$(BIN)/python bench/bench_print.py

# The request-path table of issue #15, written into bench/RESULTS.md: every scenario against
# the bare-framework baseline in the same run, with 1 worker and with granian beside the
# default (uvicorn, 2 workers), on SQLite and then on PostgreSQL (BENCH_PG, a database of
# its own, created when missing), then worker memory after 100,000 distinct certificates
# (seeding them once takes ~10 minutes).
BENCH_PG ?= postgresql+psycopg://postgres@127.0.0.1:5432/certdist_bench
BENCH_DATA ?= /tmp/certdist-bench
bench-requests: $(STAMP)
	@scripts/install-system-deps --bench
	$(BIN)/python bench/bench_distribution.py --data-dir $(BENCH_DATA)/sqlite \
	  --variant 1-worker=,workers=1 --variant granian=,server=granian \
	  --results "Request path (issue #15), SQLite"
	$(BIN)/python bench/bench_distribution.py --data-dir $(BENCH_DATA)/postgresql \
	  --database-url $(BENCH_PG) --variant granian=,server=granian \
	  --results "Request path (issue #15), PostgreSQL"
	$(BIN)/python bench/memory_serving.py --data-dir $(BENCH_DATA)/memory \
	  --results "Worker memory after 100,000 distinct certificates (issue #15)"

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache

# Re-extract the page strings into messages.pot and merge them into every catalog
# (src/certdist/web/locale/<lang>/LC_MESSAGES/messages.po); then translate the new entries.
# A new language: .venv/bin/pybabel init -D messages -i src/certdist/web/locale/messages.pot \
#   -d src/certdist/web/locale -l <lang>
LOCALE_DIR := src/certdist/web/locale
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --no-wrap \
		--project certdist --copyright-holder "the certdist authors" -o $(LOCALE_DIR)/messages.pot .
	$(BIN)/pybabel update -D messages -i $(LOCALE_DIR)/messages.pot -d $(LOCALE_DIR) \
		--no-wrap --ignore-obsolete --no-fuzzy-matching --ignore-pot-creation-date

# The container image (Containerfile): built with buildah from a Debian base made here, then
# certdist run inside it (scripts/build-image; needs root, buildah and mmdebstrap:
# scripts/install-system-deps --image). IMAGE_ARGS adds options, e.g. --save certdist.tar.
.PHONY: image
IMAGE_ARGS ?=
image:
	scripts/build-image --smoke $(IMAGE_ARGS)

# The built wheel in a clean environment without dev tools, then scripts/smoke.py against it
# (locked runtime versions; scripts/check-wheel lowest|newest for the other ends).
.PHONY: check-wheel
check-wheel: $(UV)
	scripts/check-wheel
