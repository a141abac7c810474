# The one entry point. `make run` and `make test` set everything up on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000

# `make test` talks to real PostgreSQL and Redis (the local servers unless told otherwise).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/consult
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1
PYTEST_ARGS ?= -n 2
# `make bench` works in scratch databases on the same servers (created if missing).
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/consult_bench
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/0
SESSIONS ?= 40000
SOCKETS ?= 500

.PHONY: schemathesis tools chaos run test lint typecheck fmt worker beat migrate demo bench schema check-deploy compose-check clean screenshots

# Development defaults for the commands that start the platform; production sets DEBUG=0 and
# a real SECRET_KEY in the environment, which win.
run migrate demo worker beat schema: export DEBUG ?= 1
# Operations: the processes of this machine share one metrics folder (GET /metrics adds them up;
# set METRICS_TOKEN to open it). Logs are text with DEBUG=1 unless LOG_FORMAT=json.
METRICS_DIR ?= $(CURDIR)/.metrics
run worker beat: export PROMETHEUS_MULTIPROC_DIR ?= $(METRICS_DIR)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

migrate: $(STAMP)
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py seed_demo

# Embedded mode unless DATABASE_URL/REDIS_URL are set. Demo data is loaded on the first run.
run: migrate
	@if [ ! -f .demo-loaded ] && $(BIN)/python manage.py help seed_demo >/dev/null 2>&1; then \
		$(BIN)/python manage.py seed_demo && touch .demo-loaded; fi
	$(BIN)/python -m config.metrics_dir $$PROMETHEUS_MULTIPROC_DIR
	$(BIN)/python -m config.serve -v 0 -b 127.0.0.1 -p $(PORT) config.asgi:application

test: $(STAMP)
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		$(BIN)/pytest $(PYTEST_ARGS) $(ARGS)

# schemathesis as an outside tester runs it: `--checks all` against a real daphne, as a client,
# a consultant and an operator (minutes; the suite runs the same checks in-process).
schemathesis: $(STAMP)
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		SCHEMATHESIS_LIVE=1 $(BIN)/pytest -p no:randomly config/tests/test_schemathesis.py $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory typecheck

# mypy with the django-stubs and DRF plugins (pyproject.toml [tool.mypy]). The Django plugin
# imports config.settings, so it runs with DEBUG=1 (a production environment is not needed to
# read the types; nothing connects). The cache is .mypy_cache/ in the checkout: a cold run is
# about 2 minutes of one core, a warm one seconds.
typecheck: $(STAMP)
	DEBUG=1 $(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

worker: $(STAMP)
	$(BIN)/python -m config.metrics_dir $$PROMETHEUS_MULTIPROC_DIR
	$(BIN)/celery -A config -q worker --loglevel=info --concurrency=2

beat: $(STAMP)
	$(BIN)/python -m config.metrics_dir $$PROMETHEUS_MULTIPROC_DIR
	$(BIN)/celery -A config -q beat --loglevel=info

# The three benchmarks; each prints its figures (README "Measured").
bench: $(STAMP)
	$(BIN)/python bench/ensure_db.py $(BENCH_DATABASE_URL)
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) DEBUG=1 \
		$(BIN)/python manage.py migrate --noinput -v0
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) DEBUG=1 \
		$(BIN)/python manage.py bench_discovery
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) DEBUG=1 \
		$(BIN)/python manage.py bench_billing --sessions $(SESSIONS)
	DATABASE_URL=$(BENCH_DATABASE_URL)_chat REDIS_URL=$(BENCH_REDIS_URL) \
		$(BIN)/python bench/chat.py --sockets $(SOCKETS)

# Every page at 1280 and 375 px under docs/screenshots/, from a scratch demo site (SQLite).
SCREENSHOTS_DB ?= /tmp/consult-screenshots.sqlite3
screenshots: $(STAMP)
	rm -f $(SCREENSHOTS_DB)
	env -u DATABASE_URL -u REDIS_URL DEBUG=1 SQLITE_PATH=$(SCREENSHOTS_DB) EMBEDDED_TICKER=0 sh -c '\
		$(BIN)/python manage.py migrate --noinput -v0 && \
		$(BIN)/python manage.py seed_demo >/dev/null && \
		$(BIN)/python manage.py screenshots $(ARGS)'

# Real processes killed and restarted on a PostgreSQL and a Redis of its own (README "Crashes,
# proven"): daphne x2, Celery worker x2, beat; prints its table. Under 10 minutes.
chaos: $(STAMP)
	$(BIN)/python deploy/chaos/chaos.py $(CHAOS_ARGS)

# promtool (from Debian's prometheus package, unpacked into .tools/: no service is installed or
# started) for the alert rules' tests. Skipped quietly where apt-get is not there.
tools:
	@if [ ! -x .tools/bin/promtool ] && command -v apt-get >/dev/null; then \
		tmp=$$(mktemp -d) && chmod 777 $$tmp && (cd $$tmp && apt-get download -q prometheus >/dev/null 2>&1 \
		|| (apt-get update -qq >/dev/null 2>&1 && apt-get download -q prometheus >/dev/null 2>&1)) \
		&& dpkg-deb -x $$tmp/prometheus_*.deb $$tmp/x && mkdir -p .tools/bin \
		&& cp $$tmp/x/usr/bin/promtool .tools/bin/ ; rm -rf $$tmp; fi
	@if [ -x .tools/bin/promtool ]; then .tools/bin/promtool --version | head -1; \
		else echo "promtool not installed: its tests will be skipped"; fi

schema: $(STAMP)
	$(BIN)/python manage.py spectacular --file schema.yml --validate

# Production refusals: real daphne, Celery and manage.py processes started on unsafe
# environments must refuse (config/tests/test_deploy.py, also part of `make test`), then
# Django's deploy checks on a complete production environment of throwaway values. To check
# your own environment: `DEBUG=0 .venv/bin/python manage.py check --deploy`.
check-deploy: $(STAMP)
	$(BIN)/pytest -q -p no:xdist config/tests/test_deploy.py
	env -u ALLOW_OFFLINE_PAYMENTS DEBUG=0 ALLOWED_HOSTS=consult.example.com \
		SECRET_KEY=$$(head -c 48 /dev/urandom | base64) JWT_SIGNING_KEY=$$(head -c 48 /dev/urandom | base64) \
		PAYMENT_GATEWAY=razorpay RAZORPAY_KEY_ID=rzp_live_check RAZORPAY_KEY_SECRET=$$(head -c 24 /dev/urandom | base64) \
		RAZORPAY_WEBHOOK_SECRET=$$(head -c 24 /dev/urandom | base64) \
		$(BIN)/python manage.py check --deploy --fail-level WARNING
	env -u ALLOW_OFFLINE_PAYMENTS DEBUG=0 ALLOWED_HOSTS=consult.example.com \
		SECRET_KEY=$$(head -c 48 /dev/urandom | base64) JWT_SIGNING_KEY=$$(head -c 48 /dev/urandom | base64) \
		PAYMENT_GATEWAY=stripe STRIPE_SECRET_KEY=sk_live_check STRIPE_PUBLISHABLE_KEY=pk_live_check \
		STRIPE_WEBHOOK_SECRET=whsec_$$(head -c 24 /dev/urandom | base64) \
		$(BIN)/python manage.py check --deploy --fail-level WARNING

# docker-compose.yml validates once its required variables are set (throwaway values here).
compose-check:
	SECRET_KEY=check-only POSTGRES_PASSWORD=check-only ALLOWED_HOSTS=example.com docker-compose config -q
	SECRET_KEY=check-only POSTGRES_PASSWORD=check-only ALLOWED_HOSTS=example.com \
		docker-compose -f docker-compose.yml -f docker-compose.dev.yml config -q

clean:
	rm -rf $(VENV) db.sqlite3 .demo-loaded .metrics
