#!/usr/bin/env bash
# Builds and runs the consumer against an installed iotjobs, six ways: CMake package with
# the shared and the static library and with the C++ wrapper (iotjobs::iotjobs_cpp),
# pkg-config with the shared and the static library and with the C++ wrapper; with
# SOURCE_DIR, also through add_subdirectory of that source tree (shared, static and C++; the
# cargo target directory and profile come from IOTJOBS_CARGO_TARGET_DIR /
# IOTJOBS_CARGO_PROFILE when set, so an existing build is reused). Checks that the shared and
# C++ builds need libiotjobs.so.MAJOR.MINOR and the static ones need no libiotjobs at run time.
#
#   tests/cmake-consumer/run.sh PREFIX WORKDIR [SOURCE_DIR]
set -euo pipefail

prefix=$(cd "$1" && pwd)
work=$2
source_dir=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"

needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }

expect_shared() {
  if ! needed "$1" | grep -qx 'libiotjobs\.so\.[0-9.]*'; then
    echo "FAIL: $1 does not need libiotjobs.so.*:"; needed "$1"; exit 1
  fi
}

expect_static() {
  if needed "$1" | grep -q libiotjobs; then
    echo "FAIL: $1 was meant to link libiotjobs statically:"; needed "$1"; exit 1
  fi
}

echo "== consumer: find_package(iotjobs CONFIG) with CMAKE_PREFIX_PATH=$prefix"
cmake -S "$here" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release
cmake --build "$work/cmake" -j2
expect_shared "$work/cmake/consumer_shared"
expect_static "$work/cmake/consumer_static"
expect_shared "$work/cmake/consumer_cpp"
"$work/cmake/consumer_shared"
"$work/cmake/consumer_static"
"$work/cmake/consumer_cpp"
(cd "$work/cmake" && ctest --output-on-failure)

echo "== consumer: pkg-config"
pcfile=$(find "$prefix" -name iotjobs.pc -print -quit)
[ -n "$pcfile" ] || { echo "FAIL: no iotjobs.pc under $prefix"; exit 1; }
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pcfile")
pkg-config --exists --print-errors iotjobs
echo "iotjobs.pc: version $(pkg-config --modversion iotjobs)," \
  "cflags '$(pkg-config --cflags iotjobs)', libs '$(pkg-config --libs iotjobs)'," \
  "static libs '$(pkg-config --static --libs iotjobs)'"
libdir=$(pkg-config --variable=libdir iotjobs)
strict=(-std=c99 -Wall -Wextra -Wpedantic -Werror)
read -r -a cflags <<<"$(pkg-config --cflags iotjobs)"
read -r -a libs <<<"$(pkg-config --libs iotjobs)"
cc "${strict[@]}" "${cflags[@]}" "$here/main.c" "${libs[@]}" -Wl,-rpath,"$libdir" \
  -o "$work/pc_shared"
expect_shared "$work/pc_shared"
"$work/pc_shared"

# Static: the archive itself in place of -liotjobs (which would pick the .so), followed by
# the system libraries from Libs.private.
read -r -a static_libs <<<"$(pkg-config --static --libs iotjobs)"
link=()
for flag in "${static_libs[@]}"; do
  if [ "$flag" = "-liotjobs" ]; then link+=("$libdir/libiotjobs.a"); else link+=("$flag"); fi
done
cc "${strict[@]}" "${cflags[@]}" "$here/main.c" "${link[@]}" -o "$work/pc_static"
expect_static "$work/pc_static"
"$work/pc_static"

# The C++ wrapper: the same Cflags find iotjobs.hpp next to iotjobs.h.
c++ -std=c++17 -Wall -Wextra -Wpedantic -Werror -pthread "${cflags[@]}" "$here/main.cpp" \
  "${libs[@]}" -Wl,-rpath,"$libdir" -o "$work/pc_cpp"
expect_shared "$work/pc_cpp"
"$work/pc_cpp"
builds=6
if [ -n "$source_dir" ]; then
  echo "== consumer: add_subdirectory($source_dir)"
  sub_args=(-DIOTJOBS_SOURCE_DIR="$(cd "$source_dir" && pwd)")
  [ -z "${IOTJOBS_CARGO_TARGET_DIR:-}" ] || sub_args+=(-DIOTJOBS_CARGO_TARGET_DIR="$IOTJOBS_CARGO_TARGET_DIR")
  [ -z "${IOTJOBS_CARGO_PROFILE:-}" ] || sub_args+=(-DIOTJOBS_CARGO_PROFILE="$IOTJOBS_CARGO_PROFILE")
  cmake -S "$here" -B "$work/subdir" "${sub_args[@]}"
  cmake --build "$work/subdir" -j2
  expect_shared "$work/subdir/consumer_shared"
  expect_static "$work/subdir/consumer_static"
  expect_shared "$work/subdir/consumer_cpp"
  "$work/subdir/consumer_shared"
  "$work/subdir/consumer_static"
  "$work/subdir/consumer_cpp"
  builds=9
fi
echo "consumer: $builds builds ran and passed"
