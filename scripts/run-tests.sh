#!/bin/sh
# Builds clgrad with warnings as errors and runs the whole test suite; then, unless
# CLGRAD_SKIP_SANITIZE=1, the same suite under AddressSanitizer + UndefinedBehaviorSanitizer,
# and the threads test (two contexts training in two threads) under ThreadSanitizer.
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
  # LeakSanitizer: only the OpenCL runtime's own leaks are suppressed (see README), and
  # dynamic thread-local blocks are left out of its scan, whose misreading of them made it
  # crash at exit now and then (tests/sanitize/test_lsan_dtls.c). The gpu-semantics suite
  # (Oclgrind) runs in the first pass only: LeakSanitizer's exit-time scan crashes among
  # Oclgrind's worker threads, and the same executables run on the default device in the
  # suite variants here.
  LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
  ASAN_OPTIONS="detect_leaks=1:intercept_tls_get_addr=0" \
    meson test -C build-asan --print-errorlogs --num-processes 1 --timeout-multiplier 3 --no-suite gpu-semantics

  meson setup build-tsan -Dwerror=true -Db_sanitize=thread -Db_lundef=false --reconfigure >/dev/null 2>&1 ||
    meson setup build-tsan -Dwerror=true -Db_sanitize=thread -Db_lundef=false
  ninja -C build-tsan tests/test_runtime_threads
  TSAN_OPTIONS="halt_on_error=1" meson test -C build-tsan --no-rebuild --print-errorlogs runtime_threads
fi
