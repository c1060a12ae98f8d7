# Thin wrapper around CMake and the scripts: `make`, `make deps`, `make test`, `make demo`.
JOBS ?= 2
BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
CMAKE_FLAGS ?=
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 10
FUZZ_TARGETS ?=

.PHONY: all build deps deps-fuzz test test-unit test-integration test-packaging test-asan test-tsan fuzz demo deb bench bench-instructions bench-failover clean

all: build

deps:
	@scripts/deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

# Everything CI runs: unit and integration tests (the latter include pgbench in each pool mode),
# then the same suite under AddressSanitizer + UndefinedBehaviorSanitizer, then the tests that
# run several workers under ThreadSanitizer.
test: deps
	$(MAKE) build CMAKE_FLAGS="-DSLUICE_WERROR=ON"
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) || { $(CURDIR)/scripts/failed_tests.sh .; exit 1; }
	$(MAKE) test-asan
	$(MAKE) test-tsan

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -R '^unit\.'

test-integration: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -R '^integration'

# packaging/ checked against the binary (Dockerfile libraries, Kubernetes YAML, unit, .deb).
test-packaging: build
	cd $(BUILD) && ctest --output-on-failure -R '^packaging\.'

test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=ON -DSLUICE_WERROR=ON
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j$(JOBS) \
		|| { $(CURDIR)/scripts/failed_tests.sh .; exit 1; }

# ThreadSanitizer over the tests that run several workers (the shared pools, servers handed
# between workers, cancels, the mesh, peers, the takeover; CMakeLists.txt names them); tests
# that do not choose their workers get three. Only what they need is built.
test-tsan: deps
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSLUICE_TSAN=ON -DSLUICE_WERROR=ON
	cmake --build $(TSAN_BUILD) -j$(JOBS) --target sluice integration_tests
	cd $(TSAN_BUILD) && ctest --output-on-failure -j$(JOBS) -R '^integration\.tsan\.' \
		|| { $(CURDIR)/scripts/failed_tests.sh .; exit 1; }

demo: deps build
	@scripts/demo.sh

# A Debian package of the build: $(BUILD)/sluice_<version>_<arch>.deb (packaging/README.md).
deb: build
	@scripts/make_deb.sh $(BUILD)/sluice $(BUILD)

bench: deps build
	@if [ -x bench/run.sh ]; then bench/run.sh $(BENCH_ARGS); else echo "bench: not written yet (issue 6)"; fi

# Instructions per transaction and per SCRAM login under callgrind, Sluice beside PgBouncer:
# figures the machine's load does not move (bench/README.md).
bench-instructions: deps build
	bench/instructions.sh $(INSTRUCTIONS_ARGS)

# The failover drill: primary + synchronous standby, the primary killed and the standby
# promoted under writers, through Sluice and through libpq's multi-host conninfo (bench/README.md).
bench-failover: deps build
	bench/failover.sh $(FAILOVER_ARGS)

# The libFuzzer targets of test/fuzz/ (clang), each run FUZZ_SECONDS seconds; stops at the first
# crash. FUZZ_TARGETS="scram hba" runs only those. `make test` runs their seeds without clang.
deps-fuzz:
	@scripts/deps.sh --fuzz

fuzz: deps-fuzz
	FUZZ_BUILD=$(FUZZ_BUILD) JOBS=$(JOBS) scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
