# The two commands that matter: `make demo` and `make test`. Each installs what it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help setup temporal-cli demo test check lint typecheck format services services-stop clean bench bench-smoke chaos

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{ printf "  make %-14s %s\n", $$1, $$2 }'

setup: ## install Node dependencies and check native modules
	@scripts/setup.sh

temporal-cli: ## find or build the Temporal CLI (dev server + UI)
	@scripts/temporal-cli.sh

demo: setup ## run a conversation on the embedded stack (no API key, no external services)
	@cli="$${TEMPORAL_CLI:-}"; [ -n "$$cli" ] || cli=$$(scripts/temporal-cli.sh) || exit 1; \
	  TEMPORAL_CLI="$$cli" node bin/memoir.js demo $(ARGS)

test: setup ## start the test services, run every check and test, then the benchmark smoke run
	@scripts/services.sh start
	@scripts/chromium.sh >/dev/null
	@$(MAKE) --no-print-directory check
	@scripts/check-ops.sh
	@scripts/check-pack.sh
	@npx vitest run $(TESTS)
	@# The benchmark harness once at its smallest (about a minute): proves it works, asserts nothing about speed.
	$(if $(TESTS),,@$(MAKE) --no-print-directory bench-smoke)

check: typecheck lint ## static checks (types, lint, format)
	@npx prettier --check --log-level warn .

typecheck:
	@npx tsc --noEmit -p .

lint:
	@npx eslint --max-warnings 0 .

format: ## format every file
	@npx prettier --write --log-level warn .

bench: setup ## benchmark suite on the local services (QUICK=1: a first look in under 5 minutes)
	@scripts/services.sh start
	@npm ci --prefix bench/peers/langgraph --no-audit --no-fund --loglevel=error
	@npx tsx bench/run.ts $(if $(QUICK),--quick) $(ARGS)

chaos: setup ## reliability suite at full size (~1.5 h; 100 worker kills): writes docs/reliability.md (ONLY=worker-kill,...: some, to .data/chaos)
	@scripts/services.sh start
	@npx tsx scripts/chaos.ts $(if $(ONLY),--only $(ONLY)) $(ARGS)

bench-smoke: setup ## the smallest case of each benchmark, once (proves the harness works; asserts nothing about speed)
	@scripts/services.sh start
	@npm ci --prefix bench/peers/langgraph --no-audit --no-fund --loglevel=error
	@npx tsx bench/run.ts --smoke

services: ## start PostgreSQL, Redis, Weaviate and a Temporal dev server for tests (loopback)
	@scripts/services.sh start

services-stop: ## stop the test services
	@scripts/services.sh stop

clean: services-stop ## remove local data (.data/)
	rm -rf .data
