# sfotel developer targets. The README's commands work without make; these
# are shortcuts for the longer runs.
GO ?= go

.PHONY: test bench soak demo lint fuzz e2e diagnose ci

test: ## the README's test command
	bash scripts/test.sh

bench: ## the suites of docs/benchmarks.md, variants interleaved round by round, benchstat per suite (COUNT, BENCHTIME, SUITES, OUT)
	bash scripts/bench.sh

soak: ## five minutes at full speed through 1M uids: heap and series count must stay flat (by hand, not CI)
	$(GO) run ./examples/soak -duration 5m

demo: ## the main job: the quickstart on the embedded Redis
	$(GO) run ./examples/quickstart

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

fuzz:
	bash scripts/fuzz.sh

diagnose: ## the report's ground-truth suite: one injected cause per scenario, verdicts scored (/tmp/sfotel-diagnose.md)
	bash scripts/diagnose.sh full

e2e: ## real Prometheus, OpenTelemetry Collector and Jaeger on 127.0.0.1
	bash scripts/e2e.sh

ci:
	bash .ci/run
