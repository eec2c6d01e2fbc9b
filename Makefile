# Craton: build, test and demo.  `make` builds libcraton.so; `make test` runs
# every test; `make demo` runs the main job end to end on a scratch store.

GO        ?= go
# Go 1.27's C-to-Go call takes no process-wide lock (1.26 received from a
# closed channel under its lock on every call): small operations through the
# library 8-12 % faster on one thread, up to 22 % on two. The go command
# fetches this toolchain from the module proxy on first use; go.mod still
# accepts the machine's Go 1.26 for plain `go build` / `go test`.
GOTOOLCHAIN ?= go1.27.3
export GOTOOLCHAIN
SO        := $(CURDIR)/libcraton.so
FIPS_SO   := $(CURDIR)/libcraton-fips.so
BUILD     := build
# Every Go binary depends on this stamp, named after the toolchain, so a
# change of toolchain rebuilds them all (the benchmark compares binaries of
# one toolchain).
TOOLCHAIN_STAMP := $(BUILD)/.toolchain-$(GOTOOLCHAIN)
LDFLAGS   := -extldflags -Wl,--version-script=$(CURDIR)/cmd/libcraton/exports.map
GOFILES   := $(shell find . -name '*.go' -not -path './build/*' -not -path './bench/*') $(wildcard cmd/libcraton/*.c cmd/libcraton/*.h)
# The hostile-input harness's seed in `make test` (fixed, so CI is
# repeatable); any other value explores: make integration HOSTILE_SEED=42.
HOSTILE_SEED ?= 1128
# Fuzz time per target in `make test` (CI); `make fuzz` runs longer.
FUZZTIME  ?= 200000x

.PHONY: all build install fips fips-suite test unit integration clients fuzz fuzz-short demo clean symbols

all: build
build: $(SO)

$(SO): $(GOFILES) go.mod go.sum cmd/libcraton/exports.map $(TOOLCHAIN_STAMP)
	$(GO) build -trimpath -buildmode=c-shared -ldflags '$(LDFLAGS)' -o $@ ./cmd/libcraton
	@rm -f $(CURDIR)/libcraton.h

# The library on Go's CMVP-certified FIPS 140-3 module (v1.0.0), with
# fips_mode on unless a configuration turns it off.
fips: $(FIPS_SO)
$(FIPS_SO): $(GOFILES) go.mod go.sum cmd/libcraton/exports.map $(TOOLCHAIN_STAMP)
	GOFIPS140=certified $(GO) build -trimpath -buildmode=c-shared \
	  -ldflags '$(LDFLAGS) -X github.com/craton-hsm/craton/config.BuildFIPSDefault=true' -o $@ ./cmd/libcraton
	@rm -f $(CURDIR)/libcraton-fips.h

# The exported surface must be C_* only.
symbols: $(SO)
	@extra=$$(nm -D --defined-only $(SO) | awk '{print $$3}' | grep -v '^C_' || true); \
	if [ -n "$$extra" ]; then echo "libcraton.so exports more than C_*: $$extra"; exit 1; fi; \
	n=$$(nm -D --defined-only $(SO) | awk '{print $$3}' | grep -c '^C_'); \
	echo "symbols: $$n C_* exported, nothing else"; \
	test "$$n" -eq 92

$(BUILD)/%: tests/harness/%.c tests/harness/harness.h tests/harness/allowed.h cmd/libcraton/pkcs11.h
	@mkdir -p $(BUILD)
	$(CC) -O1 -g -Wall -Wextra -Werror -I cmd/libcraton -o $@ $< -ldl -lpthread

HARNESS := $(patsubst tests/harness/%.c,$(BUILD)/%,$(wildcard tests/harness/*.c))

test: unit symbols integration fips-suite clients fuzz-short
	@echo "make test: all passed"

unit:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m $$($(GO) list ./... | grep -v /cmd/libcraton)

integration: $(SO) $(HARNESS)
	@for h in $(HARNESS); do echo "== $$h"; CRATON_SO=$(SO) FORK_COUNT=1000 HOSTILE_SEED=$(HOSTILE_SEED) ./$$h || exit 1; done
	CRATON_SO=$(SO) $(GO) test -tags integration -count=1 -timeout 15m ./tests/integration/

# The mechanism suite three ways: the plain build ran above (integration);
# here the `make fips` build, and the same under GODEBUG=fips140=only, where
# Go's module panics on any non-approved call.
fips-suite: $(FIPS_SO)
	@mkdir -p $(BUILD)
	$(GO) test -c -tags integration -o $(BUILD)/integration.test ./tests/integration/
	CRATON_SO=$(FIPS_SO) CRATON_MODE=fips ./$(BUILD)/integration.test -test.run '^TestMechanismSuite$$' -test.count=1 -test.v
	CRATON_SO=$(FIPS_SO) CRATON_MODE=fips-only GODEBUG=fips140=only ./$(BUILD)/integration.test -test.run '^TestMechanismSuite$$' -test.count=1 -test.v

clients: $(SO) $(FIPS_SO)
	@for s in tests/pkcs11-tool/*.sh; do echo "== $$s"; CRATON_SO=$(SO) CRATON_FIPS_SO=$(FIPS_SO) bash $$s || exit 1; done

# Every fuzz target, briefly (CI: a count, which cannot hit go.dev/issue/75804);
# `make fuzz` (or FUZZTIME=1h make fuzz) for a real run. See tools/fuzz.sh.
fuzz-short:
	FUZZTIME=$(FUZZTIME) GO=$(GO) tools/fuzz.sh
fuzz:
	$(MAKE) fuzz-short FUZZTIME=10m

# Installs the library and registers it with p11-kit (system-wide).
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
P11KITDIR ?= /etc/pkcs11/modules
install: $(SO)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(P11KITDIR)
	install -m 0755 $(SO) $(DESTDIR)$(LIBDIR)/libcraton.so
	sed 's|^module:.*|module: $(LIBDIR)/libcraton.so|' contrib/p11-kit/craton.module > $(DESTDIR)$(P11KITDIR)/craton.module
	chmod 0644 $(DESTDIR)$(P11KITDIR)/craton.module

demo: $(SO)
	@bash tests/demo.sh $(SO)

$(TOOLCHAIN_STAMP):
	@mkdir -p $(BUILD) && rm -f $(BUILD)/.toolchain-* && touch $@

clean:
	rm -rf $(SO) $(FIPS_SO) $(BUILD) libcraton.h
# ---- Benchmark (bench/): `make bench`; never part of `make test` -----------
# One run: Craton and SoftHSMv2 side by side (a scratch token each), plus the
# Go ceiling (the same primitives called directly). Writes results.md,
# results.csv and results.svg to $(BENCH_OUT). About 6-8 minutes with the
# defaults, most of it 2 s x 23 workloads x 2 thread counts x 3 columns, and
# creating 11,000 objects in SoftHSMv2's file store.
#   make bench BENCH_TIME=5 BENCH_THREADS=1,2,4
#   make bench BENCH_ARGS='--only sha256-1m,aes256-gcm-enc-1m'
#   make bench BENCH_BORING=1   adds Craton and the ceiling built with
#                               GOEXPERIMENT=boringcrypto as two more columns
# (bench/ceiling is its own Go module, so `go vet/test ./...` and the
# dependency-graph test never see its crypto/* imports.)
BENCH_TIME    ?= 2
BENCH_THREADS ?= 1,2
BENCH_OUT     ?= $(BUILD)/bench
BENCH_ARGS    ?=
SOFTHSM2_SO   ?= /usr/lib/softhsm/libsofthsm2.so
BENCH_CLIENT  := $(BUILD)/bench/p11bench
BENCH_CEILING := $(BUILD)/bench/ceiling
BORING_SO     := $(CURDIR)/$(BUILD)/bench/libcraton-boring.so

.PHONY: bench bench-tools
bench-tools: $(BENCH_CLIENT) $(BENCH_CEILING)

$(BENCH_CLIENT): bench/p11bench.c bench/sha256.h cmd/libcraton/pkcs11.h
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -Wall -Wextra -Werror -Wno-format-truncation -I cmd/libcraton -o $@ bench/p11bench.c -ldl -lpthread

$(BENCH_CEILING): bench/ceiling/main.go bench/ceiling/go.mod $(TOOLCHAIN_STAMP)
	@mkdir -p $(dir $@)
	cd bench/ceiling && $(GO) build -trimpath -o $(CURDIR)/$@ .

$(BENCH_CEILING)-boring: bench/ceiling/main.go bench/ceiling/go.mod $(TOOLCHAIN_STAMP)
	@mkdir -p $(dir $@)
	cd bench/ceiling && GOEXPERIMENT=boringcrypto $(GO) build -trimpath -o $(CURDIR)/$@ .

$(BORING_SO): $(GOFILES) go.mod go.sum cmd/libcraton/exports.map $(TOOLCHAIN_STAMP)
	@mkdir -p $(dir $@)
	GOEXPERIMENT=boringcrypto $(GO) build -trimpath -buildmode=c-shared -ldflags '$(LDFLAGS)' -o $@ ./cmd/libcraton
	@rm -f $(basename $@).h

# Issue 4's comparison through the C ABI: the library beside one linked
# with its GCM journal in memory (pkcs11.benchJournalInMemory; never a
# shipped build), 64-byte and 1 KiB GCM, one thread, 8 alternating rounds.
# Writes $(BENCH_OUT)/journal/results.md; `make bench` runs it last.
MEMJ_SO := $(CURDIR)/$(BUILD)/bench/libcraton-memjournal.so
$(MEMJ_SO): $(GOFILES) go.mod go.sum cmd/libcraton/exports.map $(TOOLCHAIN_STAMP)
	@mkdir -p $(dir $@)
	$(GO) build -trimpath -buildmode=c-shared \
	  -ldflags '$(LDFLAGS) -X github.com/craton-hsm/craton/pkcs11.benchJournalInMemory=yes' -o $@ ./cmd/libcraton
	@rm -f $(basename $@).h

.PHONY: bench-journal
bench-journal: $(SO) $(BENCH_CLIENT) $(MEMJ_SO)
	$(BENCH_CLIENT) run --time 24 --rounds 24 --threads 1 --only aes256-gcm-enc-64,aes256-gcm-enc-1k \
	  --out $(BENCH_OUT)/journal Craton=craton:$(SO) Craton-memjournal=craton:$(MEMJ_SO)

BENCH_BORING_DEPS = $(if $(BENCH_BORING),$(BORING_SO) $(BENCH_CEILING)-boring)
BENCH_BORING_ARGS = $(if $(BENCH_BORING),Craton-boring=craton:$(BORING_SO) --ceiling 'Go ceiling (boring)=$(CURDIR)/$(BENCH_CEILING)-boring')

bench: $(SO) bench-tools $(BENCH_BORING_DEPS)
	@test -f $(SOFTHSM2_SO) || { echo "bench: $(SOFTHSM2_SO) is missing (apt-get install softhsm2)"; exit 2; }
	$(BENCH_CLIENT) run --time $(BENCH_TIME) --threads $(BENCH_THREADS) --out $(BENCH_OUT) \
	  --ceiling $(CURDIR)/$(BENCH_CEILING) $(BENCH_ARGS) \
	  Craton=craton:$(SO) SoftHSMv2=softhsm2:$(SOFTHSM2_SO) $(BENCH_BORING_ARGS)
	python3 bench/chart.py $(BENCH_OUT)/results.csv $(BENCH_OUT)/results.svg
	$(GO) test -run '^$$' -bench . -benchtime 2s -cpu 1,2 ./pkcs11 ./gcmjournal ./slots | tee $(BENCH_OUT)/go-bench.txt
	$(MAKE) --no-print-directory bench-journal
	@echo "bench: $(BENCH_OUT)/results.md, results.csv, results.svg, go-bench.txt, journal/results.md"
# --- soak (issue 7): merge into the top-level Makefile --------------------
# A mixed workload through libcraton.so for SOAK_DURATION (default 10m):
# sign/verify, encrypt/decrypt, digest, find, create/destroy, session
# keys, sessions, login/logout, from SOAK_WORKERS threads. Samples RSS and
# open FDs every SOAK_INTERVAL and fails if RSS grows more than 10% after
# warm-up, FDs grow, sessions or objects leak, or any call fails.
# Not part of `make test` (it takes minutes): run `make soak`, or e.g.
# `make soak SOAK_DURATION=2m`.
SOAK_DURATION ?= 10m
SOAK_WORKERS  ?= 8
SOAK_INTERVAL ?= 10s

.PHONY: soak
soak: $(SO)
	@mkdir -p $(BUILD)
	$(GO) build -o $(BUILD)/soak ./tests/soak
	./$(BUILD)/soak -so $(SO) -duration $(SOAK_DURATION) -workers $(SOAK_WORKERS) -interval $(SOAK_INTERVAL)
