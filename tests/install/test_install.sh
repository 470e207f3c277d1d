#!/bin/sh
# Installs the build into a scratch root, then compiles and runs tests/install/consumer.c
# against it using only pkg-config, as an embedding application would.
set -eu
build="$1"
src="$2"
root=$(mktemp -d "${TMPDIR:-/tmp}/clgrad-install-XXXXXX")
trap 'rm -rf "$root"' EXIT
meson install -C "$build" --destdir "$root" --no-rebuild --quiet >/dev/null
pc=$(find "$root" -name clgrad.pc | head -n 1)
[ -n "$pc" ] || { echo "clgrad.pc was not installed"; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$pc")"
export PKG_CONFIG_SYSROOT_DIR="$root"
cc -std=c11 -Wall -Wextra -Werror -o "$root/consumer" "$src/tests/install/consumer.c" \
  $(pkg-config --cflags clgrad) $(pkg-config --libs clgrad)
# with a sysroot set, pkg-config already prefixes the variable
libdir=$(pkg-config --variable=libdir clgrad)
if ldd "$libdir/libclgrad.so" | grep -q libasan; then
  echo "sanitizer build: an uninstrumented consumer cannot load it; skipped"
  exit 77
fi
LD_LIBRARY_PATH="$libdir" "$root/consumer"
