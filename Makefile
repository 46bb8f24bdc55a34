# safetynet — the targets a newcomer guesses.
GO      ?= go
BIN     ?= bin/safetynet
PKGS    ?= ./...
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: run build test test-kill test-scale bench bench-ab bench-micro bench-quick lint fuzz clean

## run: the whole thing on one machine: embedded broker, synthetic feeds, monitor, HTTP API
run: build
	./$(BIN) demo

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/safetynet

## test: what every change must pass (the README's and CI's test command)
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 20m $(PKGS)
	cd third_party/badger && $(GO) test -race -count=1 ./...

## test-scale: several instances on one broker, one killed with its disk and a fresh one joining,
## every household compared with a single-instance run (make test runs a small one); docs/scaling.md
test-scale:
	SAFETYNET_SCALE_FULL=1 $(GO) test -race -count=1 -timeout 40m -run TestScaleOut -v ./test/crash

## test-kill: the full crash-safety proof: ~20,000 events, the real binary SIGKILLed 20+ times
## (make test runs a small one); see docs/guarantees.md
test-kill:
	$(GO) test -count=1 -timeout 60m -v -run 'TestKill|TestStartRefuses' ./test/crash -kill.full

## bench: throughput, latency, memory, cold start and restore against the machine's limits, one run on
## the embedded broker; prints a table and writes docs/benchmarks.md (BENCHFLAGS=-quick: seconds)
BENCHFLAGS ?=
bench: build
	./$(BIN) bench $(BENCHFLAGS)

## bench-quick: the same at a tiny size, report not written
bench-quick: build
	./$(BIN) bench -quick -out ''

## bench-ab: alternated throughput runs of two commits, A then B, N pairs (a quiet machine;
## about 2.5 minutes a pair); prints a table of events/s, CPU per million events and allocations
A ?= HEAD~1
B ?= HEAD
N ?= 3
bench-ab:
	scripts/bench-ab $(A) $(B) $(N)

## bench-micro: go micro-benchmarks of the scorer and the per-event path
bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

lint:
	$(GO) vet $(PKGS)
	test -z "$$(gofmt -l .)" || (gofmt -l . && exit 1)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

## fuzz: a short run of every fuzz target (FUZZTIME=10s each by default)
FUZZTIME ?= 10s
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf bin data
