# Omnicard developer entry points. On a fresh machine with python3.11 and make,
# `make run` and `make test` are the whole set-up: the first call builds .venv.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The local stack and the tests talk to moto only: fake credentials, one region, and
# the account-id endpoint off (botocore >= 1.44.4 otherwise sends stream calls to a
# host moto does not intercept).
TEST_ENV := -u AWS_PROFILE -u AWS_ENDPOINT_URL -u AWS_ENDPOINT_URL_DYNAMODB -u AWS_ENDPOINT_URL_DYNAMODB_STREAMS \
	AWS_ACCOUNT_ID_ENDPOINT_MODE=disabled AWS_DEFAULT_REGION=us-east-1 \
	AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing \
	AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

PYTEST_ARGS ?=
TEST_WORKERS ?= 2
ROLE ?= customer
STAGE ?= dev
PACKAGE_REGION ?= $(or $(AWS_DEFAULT_REGION),us-east-1)

DEPLOY_VENV := build/.deploy-venv
DEPLOY_STAMP := $(DEPLOY_VENV)/.installed

.PHONY: .venv run test screenshots token demo docs requirements lock package deploy-check clean reconcile expire-stars events

.venv: $(STAMP)

# Installs exactly requirements.lock (every package pinned with its hashes; `make lock` writes it),
# again whenever the lock or pyproject.toml changes: pip installs the lock, uv removes what the lock
# no longer holds, then the project itself goes in without dependencies (and without a build
# environment: setuptools comes from the lock). pip's output goes to stderr so
# `make -s token | head -1` still yields the token on a fresh venv.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check --require-hashes -r requirements.lock 1>&2
	$(BIN)/uv pip sync --quiet --python $(BIN)/python --require-hashes requirements.lock 1>&2
	$(BIN)/python -m pip install --disable-pip-version-check --no-deps --no-build-isolation -e . 1>&2
	touch $@

# make run [PORT=8000] [VERBOSE=1]: the local stack (README, "Run it locally"). One short line per
# request by default; VERBOSE=1 prints the full Powertools JSON logs and EMF metrics instead.
run: $(STAMP)
	$(if $(VERBOSE),OMNICARD_LOCAL_VERBOSE=1) $(BIN)/python -m local.server

# Against the stack `make run` serves on PORT (default 8000), from another terminal:
# make reconcile [ARGS="--json"]: `omnicard reconcile` on its tables; exit 1 on a breach, 2 if no stack.
reconcile: $(STAMP)
	@$(BIN)/python -m local.ops --port $(or $(PORT),8000) reconcile $(ARGS)

# make expire-stars [AT=2027-02-01T00:05:00Z]: the daily star expiry, now (or as if at AT).
expire-stars: $(STAMP)
	@$(BIN)/python -m local.ops --port $(or $(PORT),8000) expire-stars $(if $(AT),--at $(AT))

# make events [FOLLOW=0]: the change events the stack published, one line each, following new ones.
events: $(STAMP)
	@$(BIN)/python -m local.ops --port $(or $(PORT),8000) events $(if $(filter 0,$(FOLLOW)),,--follow)

# TEST_WORKERS=2 (CI has 2 cores): pytest-xdist runs whole test files per worker, so module
# fixtures (a served stack, a browser) stay in one process. TEST_WORKERS=0 runs in this process.
test: $(STAMP)
	env $(TEST_ENV) $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The README's console and docs-page pictures (docs/screenshots/), taken by the browser suite in
# headless Chromium at 1280x800. Needs chromium (`apt-get install -y --no-install-recommends chromium`).
screenshots: $(STAMP)
	env $(TEST_ENV) OMNICARD_SCREENSHOTS=1 $(BIN)/python -m pytest tests/browser/test_screenshots.py

# make token ROLE=pos STORE=S1 [TERMINAL=T1] [MEMBER=M1] [CHANNEL=app] [AGENT=A1] [TTL=3600]
token: $(STAMP)
	@$(BIN)/python -m local.tokens --role $(ROLE) \
		$(if $(STORE),--store $(STORE)) $(if $(TERMINAL),--terminal $(TERMINAL)) \
		$(if $(MEMBER),--member $(MEMBER)) $(if $(CHANNEL),--channel $(CHANNEL)) \
		$(if $(AGENT),--agent $(AGENT)) $(if $(TTL),--ttl $(TTL))

# make demo [PORT=8000 | URL=http://…]: against a running `make run`, a day of members, cards and
# mixed-channel transactions through the HTTP API, then ids and `export` lines with a token per role;
# then `make reconcile` checks every invariant on that stack's tables. It starts nothing: the data and
# tokens are for the stack you keep using (see local/demo.py).
demo: $(STAMP)
	@$(BIN)/python -m local.demo $(if $(URL),--url $(URL))
	@$(MAKE) --no-print-directory reconcile

# docs/api.md's generated parts (endpoints, schemas, error codes, rules) from the served OpenAPI document
# and the code; a test fails when they are stale.
docs: $(STAMP)
	$(BIN)/python -m local.apidocs

# make lock: resolve pyproject.toml's pins into requirements.txt (the Lambda's runtime lock, which
# chalice package reads), requirements.lock (runtime + dev, what .venv holds) and the deploy tools'
# lock, every package with its hashes (local/export_requirements.py, uv). Needs PyPI.
lock requirements: $(STAMP)
	$(BIN)/python -m local.export_requirements

# make package [STAGE=dev]: the deployable SAM template and code zip of a stage in build/$(STAGE)/
# (sam.json, deployment.zip): Chalice's output merged with infra/template.json, then linted. Needs a
# region (PACKAGE_REGION, default AWS_DEFAULT_REGION or us-east-1), never credentials; the Lambda
# wheels come from PyPI. Deploy it as the README's Deploy section says.
package: $(STAMP)
	$(BIN)/python -m infra.package --stage $(STAGE) --region $(PACKAGE_REGION) --out build/$(STAGE)
	$(BIN)/cfn-lint build/$(STAGE)/sam.json

# make deploy-check [STAGE=dev]: the deploy rehearsal CI runs beside `make test`: package the stage,
# run the README's Deploy commands with the AWS CLI against a loopback moto server (the SAM
# transform bridged by aws-sam-translator), assert the stack's wiring, cfn-lint and checkov both
# templates (tests/infra/test_deploy_rehearsal.py). Its tools live in their own locked venv,
# build/.deploy-venv (~450 MB, ~1.5 min the first time): their pins clash with the app's.
$(DEPLOY_STAMP): infra/deploy-tools/requirements.lock
	rm -rf $(DEPLOY_VENV)
	$(PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/python -m pip install --disable-pip-version-check --require-hashes --no-deps -r $< 1>&2
	touch $@

deploy-check: $(STAMP) $(DEPLOY_STAMP) package
	env $(TEST_ENV) OMNICARD_DEPLOY_CHECK=1 $(BIN)/python -m pytest tests/infra/test_deploy_rehearsal.py \
		-p no:randomly -W ignore::UserWarning $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) local/.state build dist *.egg-info .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
