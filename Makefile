# Thin wrapper around CMake. `make` builds build/hearth, `make run` serves www/,
# `make test` runs every test, `make asan` runs them all under ASan+UBSan,
# `make fuzz` runs every libFuzzer target, `make lint` runs clang-tidy and cppcheck.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE ?= cmake

.PHONY: all build run test asan fuzz lint clean deps format

all: build

deps:
	@./scripts/install-deps

$(BUILD)/CMakeCache.txt:
	@./scripts/install-deps
	$(CMAKE) -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: $(BUILD)/CMakeCache.txt
	$(CMAKE) --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/hearth --listen 127.0.0.1:8080 www

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

$(ASAN_BUILD)/CMakeCache.txt:
	@./scripts/install-deps
	$(CMAKE) -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DHEARTH_SANITIZE=ON

asan: $(ASAN_BUILD)/CMakeCache.txt
	$(CMAKE) --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

# Every libFuzzer target for FUZZ_TIME seconds each (clang), corpus grown in $(FUZZ_BUILD)/corpus.
FUZZ_BUILD ?= build-fuzz
FUZZ_TIME ?= 60
fuzz:
	@HEARTH_NEED_FUZZ=1 ./scripts/install-deps
	CC=clang $(CMAKE) -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DHEARTH_FUZZ=ON
	$(CMAKE) --build $(FUZZ_BUILD) -j $(JOBS)
	./scripts/run-fuzzers $(FUZZ_BUILD) $(FUZZ_TIME)

# clang-tidy (.clang-tidy) over src/**/*.c with $(BUILD)/compile_commands.json
# (configuring again picks up new source files), then cppcheck; fails on findings.
lint: $(BUILD)/CMakeCache.txt
	@HEARTH_NEED_LINT=1 ./scripts/install-deps
	$(CMAKE) -S . -B $(BUILD) >/dev/null
	./scripts/lint $(BUILD) $(JOBS)

format:
	clang-format -i src/*.c src/*/*.c src/*/*.h tests/unit/*.c tests/unit/*.h

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

# hearth against nginx, lighttpd and h2o (installs them when missing, as root); see bench/README.md.
.PHONY: bench bench-short
bench:
	./bench/run

bench-short:
	./bench/run --short

# The main integration scenarios with hearth under valgrind memcheck; fails on
# any error in a valgrind log (they are left in build/valgrind/). valgrind does
# not know openat2, so hearth walks paths itself there and never follows a
# symlink: the --follow-symlinks tests are left out.
.PHONY: valgrind
valgrind: build
	rm -rf $(BUILD)/valgrind && mkdir -p $(BUILD)/valgrind
	cd tests/integration && HEARTH_BIN=$(CURDIR)/scripts/valgrind-hearth \
		HEARTH_VALGRIND_LOG=$(CURDIR)/$(BUILD)/valgrind/%p.log \
		python3 -m unittest test_basic test_static test_malformed test_curl test_paths.DefaultPathsTest \
		test_paths.DotfilesTest test_paths.PermissiveTraversalTest test_paths.ListingTest \
		test_paths.ListingDotfilesTest
	@# memcheck's reports are the "==PID==" lines (its "--PID--" warnings, such as
	@# about openat2, which it does not know and hearth then works around, are not)
	@if grep -l '^==[0-9]*== ' $(BUILD)/valgrind/*.log; then \
		echo "valgrind found errors in the logs above"; exit 1; fi
	@echo "valgrind: no errors in $$(ls $(BUILD)/valgrind | wc -l) logs"
