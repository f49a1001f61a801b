GO ?= go
STATICCHECK_VERSION ?= v0.8.2

.PHONY: test test-short lint vet staticcheck bench build serve fuzz explore web-vendor

## test: everything CI runs: vet, then every test with the race detector.
test: vet
	$(GO) test -race -shuffle=on -timeout 20m ./...

## test-short: the same without the race detector (faster on a laptop).
test-short:
	$(GO) test -shuffle=on -timeout 20m ./...

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

lint: vet staticcheck
	@test -z "$$(gofmt -l .)" || (echo "gofmt would change:"; gofmt -l .; exit 1)

build:
	$(GO) build -o bin/mercato ./cmd/mercato

serve:
	$(GO) run ./cmd/mercato serve

## bench: the Go benchmarks recorded in BENCHMARKS.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./...

## fuzz: a short fuzzing session on every decoder that takes outside bytes.
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 60s ./internal/event/

## explore: the randomized fault and timing explorer (docs/explorer.md) over
## SEEDS seeds (make explore SEEDS=200); SEED=S replays one.
SEEDS ?= 20
explore:
	MERCATO_EXPLORE_SEEDS=$(SEEDS) $(if $(SEED),MERCATO_EXPLORE_SEED=$(SEED)) \
		$(GO) test ./cmd/mercato -run '^TestExplore$$' -count=1 -v -timeout $$(( $(SEEDS) * 3 + 10 ))m

## web-vendor: refresh the console's pinned npm assets (web/package.json) in web/static/vendor.
web-vendor:
	cd web && npm ci --ignore-scripts
	mkdir -p web/static/vendor/uplot
	cp web/node_modules/uplot/dist/uPlot.iife.min.js web/node_modules/uplot/dist/uPlot.min.css web/node_modules/uplot/LICENSE web/static/vendor/uplot/
