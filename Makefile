# sfotel developer targets. The README's commands work without make; these
# are shortcuts for the longer runs.
GO ?= go
BENCHCOUNT ?= 6
BENCHTIME ?= 1s

.PHONY: test bench demo lint fuzz e2e ci

test: ## the README's test command
	bash scripts/test.sh

bench: ## every benchmark, -count $(BENCHCOUNT); compare variants with benchstat
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCHCOUNT) -benchtime $(BENCHTIME) ./... | tee bench.out

demo: ## the main job: the quickstart on the embedded Redis
	$(GO) run ./examples/quickstart

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

fuzz:
	bash scripts/fuzz.sh 15s

e2e: ## real Prometheus, OpenTelemetry Collector and Jaeger on 127.0.0.1
	bash scripts/e2e.sh

ci:
	bash .ci/run
