# Thin wrapper over CMake. The real build lives in CMakeLists.txt.
#
#   make          configure (first time) and build into $(BUILD)
#   make test     build, then run the fast tests and the tests labelled "slow"
#   make demo     install, build, then train, evaluate and export simple_cnn on the built-in
#                 SYNTHETIC data (scripts/demo.sh; DATA=DIR for a real dataset, OUT=DIR for
#                 the output folder, default demo-out)
#   make deps     install the Debian packages (scripts/install-deps.sh)
#   make clean    remove $(BUILD)
#
# Variables: BUILD (build dir), JOBS (parallelism), CMAKE_FLAGS (extra flags
# for the first configure only; `make clean` to reconfigure).

BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.DEFAULT_GOAL := build
# cmake --build runs make too; keep its output free of enter/leave lines.
MAKEFLAGS += --no-print-directory
.PHONY: deps build test demo clean

deps:
	scripts/install-deps.sh

build: deps
	@if [ ! -f "$(BUILD)/CMakeCache.txt" ]; then \
		echo "cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)"; \
		cmake -S . -B "$(BUILD)" -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) || exit $$?; \
	fi
	cmake --build "$(BUILD)" -j $(JOBS)

# Fast tests first, in parallel; then the "slow" ones one at a time. With
# no test labelled slow, the second run is skipped (rather than relying on
# ctest exiting 0 for "No tests were found", which CTEST_NO_TESTS_ACTION can
# turn into a failure).
test: build
	cd "$(BUILD)" && ctest --output-on-failure -j $(JOBS) -LE slow
	@cd "$(BUILD)" && \
	if [ "$$(ctest -N -L slow | sed -n 's/^Total Tests: //p')" = 0 ]; then \
		echo "test: no tests labelled slow"; \
	else \
		echo "ctest --output-on-failure -L slow"; \
		ctest --output-on-failure -L slow; \
	fi

# The demo times the package installation and the build apart from itself.
demo:
	@t0=$$(date +%s); $(MAKE) deps || exit $$?; t1=$$(date +%s); \
	$(MAKE) build BUILD="$(BUILD)" JOBS="$(JOBS)" || exit $$?; t2=$$(date +%s); \
	echo "demo: package installation took $$((t1 - t0)) s, the build $$((t2 - t1)) s (not part of the demo's time)"; \
	BUILD="$(BUILD)" DATA="$(DATA)" OUT="$(OUT)" scripts/demo.sh

clean:
	rm -rf "$(BUILD)"
