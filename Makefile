# Craton: build, test and demo.  `make` builds libcraton.so; `make test` runs
# every test; `make demo` runs the main job end to end on a scratch store.

GO        ?= go
SO        := $(CURDIR)/libcraton.so
FIPS_SO   := $(CURDIR)/libcraton-fips.so
BUILD     := build
LDFLAGS   := -extldflags -Wl,--version-script=$(CURDIR)/cmd/libcraton/exports.map
GOFILES   := $(shell find . -name '*.go' -not -path './build/*') $(wildcard cmd/libcraton/*.c cmd/libcraton/*.h)
# Fuzz time per target in `make test` (CI); `make fuzz` runs longer.
FUZZTIME  ?= 5s

.PHONY: all build install fips fips-suite test unit integration clients fuzz fuzz-short demo clean symbols

all: build
build: $(SO)

$(SO): $(GOFILES) go.mod go.sum cmd/libcraton/exports.map
	$(GO) build -trimpath -buildmode=c-shared -ldflags '$(LDFLAGS)' -o $@ ./cmd/libcraton
	@rm -f $(CURDIR)/libcraton.h

# The library on Go's CMVP-certified FIPS 140-3 module (v1.0.0), with
# fips_mode on unless a configuration turns it off.
fips: $(FIPS_SO)
$(FIPS_SO): $(GOFILES) go.mod go.sum cmd/libcraton/exports.map
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

$(BUILD)/%: tests/harness/%.c tests/harness/harness.h cmd/libcraton/pkcs11.h
	@mkdir -p $(BUILD)
	$(CC) -O1 -g -Wall -Wextra -Werror -I cmd/libcraton -o $@ $< -ldl -lpthread

HARNESS := $(patsubst tests/harness/%.c,$(BUILD)/%,$(wildcard tests/harness/*.c))

test: unit symbols integration fips-suite clients fuzz-short
	@echo "make test: all passed"

unit:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m $$($(GO) list ./... | grep -v /cmd/libcraton)

integration: $(SO) $(HARNESS)
	@for h in $(HARNESS); do echo "== $$h"; CRATON_SO=$(SO) FORK_COUNT=1000 ./$$h || exit 1; done
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

# Every fuzz target, briefly (CI); FUZZTIME=10m make fuzz for a real run.
FUZZ_TARGETS = $(shell grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u)
fuzz-short:
	@for d in $(FUZZ_TARGETS); do \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$d/*_test.go | sed 's/func //'); do \
	    echo "== fuzz $$d $$f ($(FUZZTIME))"; \
	    $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$d || exit 1; \
	  done; done
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

clean:
	rm -rf $(SO) $(FIPS_SO) $(BUILD) libcraton.h
