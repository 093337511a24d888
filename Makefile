# revokd's one entry point for building and checking. CI runs `make test`
# through .ci/run, so a green `make test` here is a green CI.

GO          ?= go
# staticcheck 2026.2.2, the release that knows Go 1.26. `go run pkg@version`
# fetches it through the module proxy once and then runs from the cache.
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN         ?= bin/revokd
# The whole suite with -race takes a few minutes on 2 cores; this only stops
# a hung test.
TEST_TIMEOUT ?= 20m
# Where revokd must build besides the host (which vet and unit cover): Linux
# on arm64 servers, and developers' Macs. These are compiled and vetted, test
# files included, but their tests are not run: a cross-compiled test binary
# cannot run here.
CROSS_PLATFORMS ?= linux/arm64 darwin/arm64 darwin/amd64

.PHONY: test check fmt vet staticcheck deps cross unit build release bench clean

## test: gofmt check, go vet, staticcheck, the deps check, the cross-builds,
##       then every test with the race detector
test: fmt vet staticcheck deps cross unit

## check: the same as test
check: test

fmt:
	@out="$$(find . -name '*.go' -not -path './.git/*' -print0 | xargs -0 gofmt -l)"; \
	if [ -n "$$out" ]; then echo "gofmt: these files need formatting (run gofmt -w):"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# The first run downloads staticcheck and builds it, which takes a while in
# silence; say so, so that is not mistaken for a hang. Only for the default
# STATICCHECK (go run), and only while the module is not in the cache.
STATICCHECK_MOD = honnef.co/go/tools@$(STATICCHECK_VERSION)
staticcheck:
	@case '$(STATICCHECK)' in *'honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)'*) \
		if [ ! -d "$$($(GO) env GOMODCACHE)/$(STATICCHECK_MOD)" ]; then \
			echo "staticcheck: fetching $(STATICCHECK_MOD) through the module proxy on first use, then building it"; \
		fi;; \
	esac
	$(STATICCHECK) ./...

## deps: no shipped binary links the testing package (test support lives
##       under internal/ and only tests import its testing.TB helpers)
deps:
	@if $(GO) list -deps ./cmd/... | grep -qx testing; then \
		echo "deps: a binary under cmd/ links the testing package, through:"; \
		$(GO) list -deps -f '{{.ImportPath}}{{range .Imports}}{{if eq . "testing"}} imports testing{{end}}{{end}}' ./cmd/... | grep ' imports testing$$'; \
		echo "move what a binary needs into a package that does not import testing (as internal/pgcluster is to internal/pgtest)"; \
		exit 1; \
	fi

## cross: go build and go vet ./... for each of CROSS_PLATFORMS
cross:
	@set -e; for p in $(CROSS_PLATFORMS); do \
		echo "cross: $$p"; \
		GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build ./...; \
		GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) vet ./...; \
	done

unit:
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

# The flags of both builds, bar -trimpath.
BUILD_FLAGS = -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN) ./cmd/revokd

## build: a static binary in bin/, with the version from git. Without
##        -trimpath: that flag changes every package's compile, so nothing a
##        go run or go test has built can be reused (measured on 2 cores just
##        after a go build ./cmd/revokd: 85-136 s with -trimpath, 18 s without;
##        the rest is CGO_ENABLED=0 recompiling net and os/user, kept for a
##        static binary).
build:
	CGO_ENABLED=0 $(GO) build $(BUILD_FLAGS)

## release: the same with -trimpath, as the Dockerfile builds: no paths of
##          this machine in the binary, reproducible from the same commit
release:
	CGO_ENABLED=0 $(GO) build -trimpath $(BUILD_FLAGS)

## bench: the load tool's script when there is one, else the Go benchmarks
##        (make bench BENCH_ARGS="--runs 5 --profile" passes flags to the script)
bench:
	@if [ -f scripts/bench.sh ]; then \
		bash scripts/bench.sh $(BENCH_ARGS); \
	else \
		$(GO) test -run '^$$' -bench . -benchmem ./...; \
	fi

clean:
	rm -rf bin
