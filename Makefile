# earshot — see README.md. Everything local lives under .cache/ (git-ignored).
SHELL := /bin/bash
GO ?= go
export EARSHOT_CACHE ?= $(CURDIR)/.cache
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(EARSHOT_CACHE)/bin/staticcheck-$(STATICCHECK_VERSION)
# Brief fuzzing of every fuzz target in `make test`; longer runs: make fuzz FUZZTIME=5000000x.
# A count, not a duration: with a duration, Go 1.26's fuzz coordinator can report a spurious
# "context deadline exceeded" at the deadline (golang/go#75804, fixed in Go 1.27).
FUZZTIME ?= 100000x

.PHONY: all build test unit-test integration-test lint up down deps demo bench bench-bins bench-night soak fuzz clean screenshots

all: build

build:
	$(GO) build ./...

deps:
	@bash deploy/local/deps.sh

## up: start the local Kafka broker and ClickHouse engine (installs them on first use).
up: deps
	@bash deploy/local/kafka.sh start
	@bash deploy/local/clickhouse.sh start

## down: stop them (data stays under .cache/ for the next `make up`).
down:
	@bash deploy/local/kafka.sh stop
	@bash deploy/local/clickhouse.sh stop

## test: bring the servers up, run unit and integration tests (servers required), fuzz briefly,
## tear the servers down again.
test: build
	@bash deploy/local/with-servers.sh $(MAKE) --no-print-directory test-all

.PHONY: test-all
test-all:
	@mkdir -p $(EARSHOT_CACHE)
	@set -o pipefail; EARSHOT_REQUIRE_SERVERS=1 $(GO) test -count=1 -timeout 20m -v ./... 2>&1 \
	  | tee $(EARSHOT_CACHE)/test.log | grep -E '^(ok|FAIL|---|panic|\s+\S+_test\.go:)' ; rc=$$?; \
	  bash deploy/local/test-summary.sh $(EARSHOT_CACHE)/test.log; exit $$rc
	@$(MAKE) --no-print-directory fuzz

fuzz:
	@mkdir -p $(EARSHOT_CACHE)
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg > $(EARSHOT_CACHE)/fuzz.log 2>&1 \
	      || { grep -v '^fuzz: elapsed' $(EARSHOT_CACHE)/fuzz.log | tail -40; exit 1; }; \
	  done; \
	done

lint: $(STATICCHECK)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags soak ./bench/soak/
	$(STATICCHECK) ./...

$(STATICCHECK):
	@mkdir -p $(EARSHOT_CACHE)/bin
	GOBIN=$(EARSHOT_CACHE)/bin/tmp $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(EARSHOT_CACHE)/bin/tmp/staticcheck $@ && rmdir $(EARSHOT_CACHE)/bin/tmp

## demo: a simulated live stream through collector → Kafka → aggregator → ClickHouse, then the
## report with claim verdicts (servers are started and stopped as needed).
demo: build
	@bash deploy/local/with-servers.sh bash deploy/local/demo.sh

## screenshots: the web page in Debian's chromium, headless — a seeded page and the page of a
## stream that went through the whole pipeline — as PNGs in .cache/screenshots/.
screenshots: build
	@mkdir -p $(EARSHOT_CACHE)/screenshots
	@bash deploy/local/with-servers.sh env EARSHOT_SCREENSHOTS=$(EARSHOT_CACHE)/screenshots EARSHOT_REQUIRE_SERVERS=1 \
	  $(GO) test -count=1 -v -run 'TestBrowserRendersTheStreamPage|TestEndToEndMatchesTruth' ./internal/web/ ./internal/aggregator/ \
	  | grep -E '^(ok|FAIL|---)|screenshot:'

## soak: honest players and abusive clients at once against one collector for SOAK_DURATION
## (default 5m), loopback only: the collector's RSS against its budget, honest answers, and the
## honest stream's figures against its truth (bench/soak).
SOAK_DURATION ?= 5m
soak: build
	@bash deploy/local/with-servers.sh env SOAK_DURATION=$(SOAK_DURATION) EARSHOT_REQUIRE_SERVERS=1 \
	  $(GO) test -tags soak -count=1 -v -timeout 40m -run TestSoak ./bench/soak/

# Go benchmarks run BENCHCOUNT times each and print medians (one run is noise on a shared
# machine); the side-by-side harnesses take medians of their own runs.
BENCHCOUNT ?= 5
# The 1M–5M bands of the interval coverage run here (sketches: a minute; the SQL count: ~10 min);
# make test checks the bands below.
# The last harness is earshot against the SQL-at-query-time peer on one stream: the night's
# peak at 200 000 listeners (scale 0.154) through the whole pipeline, then the same events
# loaded raw and computed by SQL (3 runs, medians).
bench: build bench-bins
	@bash deploy/local/with-servers.sh bash -c 'set -o pipefail; $(GO) test -run "^$$" -bench . -benchmem -count $(BENCHCOUNT) ./... | $(GO) run ./bench/median && $(GO) run ./bench/collector && $(GO) run ./bench/aggregator && $(GO) run ./bench/night -scale 0.154 -peer 3 -profile-at 0'
	@$(GO) test ./internal/sketch -count=1 -run TestIntervalCoverage -v -args -large | grep -E 'covered|^(ok|FAIL|---)'
	@bash deploy/local/with-servers.sh env EARSHOT_SQL_COVERAGE_LARGE=1 EARSHOT_REQUIRE_SERVERS=1 \
	  $(GO) test ./internal/aggregator -count=1 -timeout 60m -run TestSQLAnyRangeCoverage -v | grep -E 'covered|^(ok|FAIL|---)'

## bench-bins: the collector and aggregator binaries the harnesses start as processes.
bench-bins:
	@mkdir -p $(EARSHOT_CACHE)/bin
	$(GO) build -o $(EARSHOT_CACHE)/bin/ ./cmd/collector ./cmd/aggregator

## bench-night: the peak of the 2024 night at full size (1.3M listeners, ≥ 1M connected for
## over ten minutes) through players → collector → Kafka → aggregator → ClickHouse on this
## machine: throughput, real-time factor, RSS, rows-visible delay, bytes, figures vs truth,
## CPU profiles (bench/night). NIGHT_ARGS='-collectors 2 -aggregators 2' scales out;
## NIGHT_ARGS='-scale 0.05' rehearses in a minute.
NIGHT_ARGS ?=
bench-night: build bench-bins
	@bash deploy/local/with-servers.sh $(GO) run ./bench/night $(NIGHT_ARGS)

clean:
	rm -rf $(EARSHOT_CACHE)/clickhouse $(EARSHOT_CACHE)/kafka/data
