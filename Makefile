# DevServer Console. `make run` starts the console on the embedded simulator;
# `make test` installs what the tests need and runs all of them.

GO      ?= go
BIN     ?= bin/console
PKGS    := ./...
# The packages whose tests run a second time on PostgreSQL (CONSOLE_TEST_ENGINE=postgres):
# the packages that keep state in the store (the store package tests both engines itself;
# web and app run on PostgreSQL in the two-replica test).
PG_PKGS := ./internal/audit ./internal/auth ./internal/fleet ./internal/batch ./internal/approval ./internal/notify
export CGO_ENABLED ?= 0

# Browser tests: the Playwright driver version is tied to github.com/mxschmitt/playwright-go
# in go.mod (v0.6401.0 <-> playwright-core 1.64.1); it is built into a git-ignored cache dir.
PLAYWRIGHT_VERSION     ?= 1.64.1
PLAYWRIGHT_DRIVER_PATH ?= $(CURDIR)/.cache/playwright-driver-$(PLAYWRIGHT_VERSION)
E2E_TIMEOUT            ?= 20m
export PLAYWRIGHT_DRIVER_PATH
# axe-core, injected into every page by the accessibility journeys (e2e/a11y_test.go).
AXE_CORE_VERSION ?= 4.14.1
AXE_CORE_DIR     ?= $(CURDIR)/.cache/axe-core-$(AXE_CORE_VERSION)
export AXE_CORE_VERSION AXE_CORE_DIR

.PHONY: run build generate generate-check lint test test-unit test-deps test-deps-postgres test-e2e run-unit run-e2e bench clean sdk-check

## run: start the console on the embedded ModelArts simulator and ./data/console.db
run:
	$(GO) run ./cmd/console serve

## build: a static binary in bin/console
build:
	$(GO) build -trimpath -ldflags="-s -w" -o $(BIN) ./cmd/console

## generate: regenerate templ components (the generated code is committed)
generate:
	$(GO) tool templ generate -path internal/views

## generate-check: fail when the committed generated code is stale, or when
## generation made a file git does not track yet (a new page never committed)
generate-check: generate
	@git diff --exit-code -- internal/views || { echo "generated templ code is stale: run 'make generate' and commit"; exit 1; }
	@new="$$(git ls-files --others --exclude-standard -- internal/views)"; \
	if [ -n "$$new" ]; then echo "generated files not committed:"; echo "$$new"; exit 1; fi

## lint: no build products tracked, gofmt, go vet, staticcheck and the dead-code
## check (both pinned in go.mod as tools: `go tool staticcheck`, `go tool deadcode`)
lint:
	@scripts/check-tracked-files.sh
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)
	@echo "$(GO) tool deadcode -test $(PKGS)"; \
	out="$$($(GO) tool deadcode -test $(PKGS))" || exit 1; \
	if [ -n "$$out" ]; then echo "unreachable functions (delete them, or use them):"; echo "$$out"; exit 1; fi

## test: everything: lint, generated code and the SDK check, then (after installing what is
## missing, one installer at a time) the unit tests and the browser journeys side by side:
## the journeys mostly wait on the browser and the simulator, so the race-enabled unit tests
## use the cores they leave idle. Each part's output is printed whole when it ends (-O).
test: lint generate-check sdk-check test-deps-postgres test-deps
	@$(MAKE) --no-print-directory -j2 -O run-unit run-e2e

## test-unit: the Go unit, handler and integration tests (no browser needed), with the race
## detector (race builds need cgo) and one throw-away PostgreSQL for the whole run (pgrun
## starts it and removes it afterwards); then the packages that keep state in the store
## once more with PostgreSQL as their store. That second pass checks the SQL and the
## cross-replica behaviour on PostgreSQL; it runs without the race detector, since the Go
## code it runs is the same the first pass has just run with it.
test-unit: test-deps-postgres
	@$(MAKE) --no-print-directory run-unit

run-unit:
	@pkgs="$$($(GO) list $(PKGS))" || exit 1; \
	echo "$(GO) test -race -count=1 \$$($(GO) list $(PKGS) | grep -v /e2e)"; \
	echo "CONSOLE_TEST_ENGINE=postgres $(GO) test -count=1 $(PG_PKGS)"; \
	CGO_ENABLED=1 $(GO) run ./internal/testutil/pgtest/pgrun -- sh -c '$(GO) test -race -count=1 -timeout 20m '"$$(echo "$$pkgs" | grep -v '/e2e$$' | tr '\n' ' ')"' && CONSOLE_TEST_ENGINE=postgres $(GO) test -count=1 -timeout 20m $(PG_PKGS)'

## test-deps-postgres: install Debian's postgresql (apt, as root) when its server is missing
test-deps-postgres:
	scripts/install-postgres.sh

## test-deps: install Chromium (apt, as root), the Playwright driver and axe-core when missing
test-deps:
	PLAYWRIGHT_CORE_VERSION=$(PLAYWRIGHT_VERSION) scripts/install-test-deps.sh

## test-e2e: the browser journeys in e2e/ (artifacts of failures in e2e/artifacts/)
test-e2e: test-deps
	@$(MAKE) --no-print-directory run-e2e

run-e2e:
	$(GO) test -count=1 -timeout $(E2E_TIMEOUT) ./e2e

## sdk-check: check the simulator and the AK/SK signer against Huawei's official Go SDK
## (tools/sdkcheck, a separate module, so the main module never depends on the ~45 MiB SDK)
sdk-check:
	cd tools/sdkcheck && $(GO) vet ./... && $(GO) test -count=1 ./...

clean:
	rm -rf bin
