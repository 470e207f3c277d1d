#!/bin/sh
# Builds clgrad with warnings as errors and runs the whole test suite; then, unless
# CLGRAD_SKIP_SANITIZE=1, the same suite under AddressSanitizer + UndefinedBehaviorSanitizer.
set -eu
cd "$(dirname "$0")/.."
meson setup build-test -Dwerror=true -Dbuildtype=debugoptimized --reconfigure >/dev/null 2>&1 ||
  meson setup build-test -Dwerror=true -Dbuildtype=debugoptimized
ninja -C build-test
meson test -C build-test --print-errorlogs --num-processes 1

if [ "${CLGRAD_SKIP_SANITIZE:-0}" != 1 ]; then
  meson setup build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
    --reconfigure >/dev/null 2>&1 ||
    meson setup build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false
  ninja -C build-asan
  # LeakSanitizer: only the OpenCL runtime's own leaks are suppressed (see README). The
  # gpu-semantics suite (Oclgrind) runs in the first pass only: LeakSanitizer's exit-time
  # scan crashes among Oclgrind's worker threads, and the same executables run on the
  # default device in the suite variants here.
  LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
  ASAN_OPTIONS="detect_leaks=1" \
    meson test -C build-asan --print-errorlogs --num-processes 1 --timeout-multiplier 3 --no-suite gpu-semantics
fi
