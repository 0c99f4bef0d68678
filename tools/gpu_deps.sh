#!/usr/bin/env bash
# Bundles the Debian packages the build needs besides the compiler (fmt, GoogleTest/GoogleMock,
# Google Benchmark, OpenBLAS, CLI11, nlohmann-json, stb, zlib, pkgconf) into one relocatable
# folder, for a machine that has nvcc and CMake but not these packages (the GPU machine of the
# `run` tool: carry [".gpu-deps"] and run `bash tools/gpu_check.sh`, which uses the folder when
# it exists).
#
#   tools/gpu_deps.sh [DEST]        default DEST: <repo>/.gpu-deps (gitignored; replaced)
#
# Runs on Debian 12 amd64: `apt-get download`s the .deb files into a temporary folder (deleted
# afterwards; `apt-get update` first when apt does not know a package and we are root), unpacks
# them with dpkg-deb, and makes the result relocatable:
#   - /lib/... (zlib1g) merges into usr/lib/...; absolute symlinks become relative;
#   - pkg-config files say prefix=${pcfiledir}/../.. instead of /usr;
#   - CMake config files say ${CMAKE_CURRENT_LIST_DIR}/../.. instead of /usr;
#   - usr/bin/pkg-config runs the bundled pkgconf (for a machine with no pkg-config).
# Files over 8 MB (libopenblas) are stored xz-compressed: FILE.xz (tools/gpu_check.sh unpacks
# them; by hand: `find .gpu-deps -name '*.xz' -exec xz -d {} +`).
# Left out: documentation, static libraries that have a shared twin, OpenBLAS's BLAS/LAPACK
# compatibility libraries, libstb (atebm compiles stb from its headers), and everything the
# machine's compiler brings (libc, libstdc++, libgcc_s, libgomp).
#
# Layout of DEST: usr/include, usr/lib/x86_64-linux-gnu (libraries, cmake/, pkgconfig/),
# usr/lib/x86_64-linux-gnu/openblas-pthread (libopenblas.so.0, pkgconfig/openblas.pc),
# usr/share/{cmake,pkgconfig}, usr/bin/pkg-config, PACKAGES (package and version, one a line).
set -euo pipefail

die() {
  echo "gpu_deps: $*" >&2
  exit 1
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${1:-$ROOT/.gpu-deps}"
MULTIARCH=x86_64-linux-gnu

# Development packages and the runtime libraries they link to. libgfortran5/libquadmath0:
# libopenblas.so.0 needs them and a compiler-only machine need not have Fortran's runtime.
PACKAGES=(libfmt-dev libfmt9 libgtest-dev libgmock-dev libbenchmark-dev libbenchmark1debian
          libopenblas-pthread-dev libopenblas0-pthread libgfortran5 libquadmath0 libcli11-dev
          nlohmann-json3-dev libstb-dev zlib1g-dev zlib1g pkgconf-bin libpkgconf3)

[ "$(dpkg --print-architecture 2>/dev/null)" = amd64 ] ||
  die "needs a Debian amd64 machine (the GPU machine is x86-64); dpkg says '$(dpkg --print-architecture 2>/dev/null)'"
{ command -v apt-get && command -v dpkg-deb && command -v xz; } >/dev/null || die "needs apt-get, dpkg-deb and xz"
# DEST is replaced wholesale: refuse to delete a folder this script did not make.
if [ -e "$DEST" ] && [ ! -f "$DEST/PACKAGES" ] && [ -n "$(ls -A "$DEST" 2>/dev/null)" ]; then
  die "$DEST exists and was not made by this script (no PACKAGES file): not replacing it"
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
chmod 755 "$TMP"  # apt's download sandbox user must be able to write there
DEBS="$TMP/debs"
STAGE="$TMP/stage"
mkdir -p "$DEBS" "$STAGE"

# ---- download + unpack -------------------------------------------------------------------------
download() { (cd "$DEBS" && apt-get download -q "${PACKAGES[@]/%/:amd64}") >"$TMP/download.log" 2>&1; }
if ! download; then
  [ "$(id -u)" -eq 0 ] || { cat "$TMP/download.log" >&2; die "apt-get download failed (run apt-get update as root?)"; }
  echo "gpu_deps: apt-get download failed; running apt-get update and trying again"
  apt-get update -q >/dev/null || die "apt-get update failed"
  download || { cat "$TMP/download.log" >&2; die "apt-get download failed"; }
fi
: >"$STAGE/PACKAGES"
for deb in "$DEBS"/*.deb; do
  dpkg-deb -x "$deb" "$STAGE"
  # shellcheck disable=SC2016  # dpkg-deb expands ${Package}, not the shell
  dpkg-deb --show --showformat='${Package} ${Version}\n' "$deb" >>"$STAGE/PACKAGES"
done
[ "$(grep -c . "$STAGE/PACKAGES")" -eq "${#PACKAGES[@]}" ] || die "expected ${#PACKAGES[@]} packages, unpacked: $(tr '\n' ',' <"$STAGE/PACKAGES")"

# zlib1g ships /lib/x86_64-linux-gnu (Debian 12 is merged-/usr, its packages not yet).
for d in lib lib64 bin sbin; do
  if [ -d "$STAGE/$d" ]; then
    mkdir -p "$STAGE/usr/$d"
    cp -a "$STAGE/$d/." "$STAGE/usr/$d/"
    rm -rf "${STAGE:?}/$d"
  fi
done
rm -rf "${STAGE:?}/etc"

# ---- prune -------------------------------------------------------------------------------------
LIB="$STAGE/usr/lib/$MULTIARCH"
BLAS="$LIB/openblas-pthread"
find "$STAGE/usr/share" -mindepth 1 -maxdepth 1 ! -name cmake ! -name pkgconfig -exec rm -rf {} +
rm -rf "${STAGE:?}/usr/src"
# OpenBLAS's reference-BLAS/LAPACK stand-ins (libblas.so.3, liblapack.so.3): atebm calls cblas_*
# of libopenblas itself.
rm -f "$BLAS"/libblas.* "$BLAS"/liblapack.* "$BLAS"/pkgconfig/blas-openblas.pc "$BLAS"/pkgconfig/lapack-openblas.pc
# A static library whose shared twin is here: the build links the shared one. GoogleTest and
# GoogleMock ship static libraries only (their CMake files check that these exist), as does
# benchmark_main: those stay.
while IFS= read -r -d '' a; do
  if [ -e "${a%.a}.so" ] || [ -L "${a%.a}.so" ]; then rm -f "$a"; fi
done < <(find "$STAGE/usr" -name '*.a' -print0)

# ---- relocate ----------------------------------------------------------------------------------
# Absolute symlinks (libz.so -> /lib/.../libz.so.1.2.13) point into the folder, relatively.
while IFS= read -r -d '' link; do
  target="$(readlink "$link")"
  case "$target" in /*) ;; *) continue ;; esac
  inside="$STAGE/usr${target#/usr}"
  ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$inside")" "$link"
done < <(find "$STAGE" -type l -print0)
# libstb.so (libstb0 is not bundled) and the BLAS/LAPACK links above now dangle.
find "$STAGE" -xtype l -delete
[ -e "$LIB/libstb.so" ] || rm -f "$LIB/pkgconfig/stb.pc"

# pkg-config: every "/usr" that starts a value or a -I/-L flag becomes ${pcfiledir}/<up to usr>.
while IFS= read -r -d '' pc; do
  up="$(realpath -m --relative-to="$(dirname "$pc")" "$STAGE/usr")"
  sed -i -E "/^[[:space:]]*#/!s#(^|[=[:space:]]|-[IL])/usr(/|[[:space:]]|\$)#\1\${pcfiledir}/$up\2#g" "$pc"
done < <(find "$STAGE/usr" -name '*.pc' -print0)
# CMake: likewise with ${CMAKE_CURRENT_LIST_DIR} (OpenBLASConfig.cmake lists absolute paths; the
# exported-target files only compare against /usr, which stays correct after the rewrite).
while IFS= read -r -d '' cm; do
  up="$(realpath -m --relative-to="$(dirname "$cm")" "$STAGE/usr")"
  sed -i -E "/^[[:space:]]*#/!s#([\"( =;])/usr(/|\"|\\)|[[:space:]]|;|\$)#\1\${CMAKE_CURRENT_LIST_DIR}/$up\2#g" "$cm"
done < <(find "$STAGE/usr" -name '*.cmake' -print0)

# pkg-config for a machine without one.
cat >"$STAGE/usr/bin/pkg-config" <<'SH'
#!/bin/sh
# pkg-config for a machine without one: Debian 12's pkgconf from this folder (tools/gpu_deps.sh).
usr=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
LD_LIBRARY_PATH="$usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$usr/bin/pkgconf" "$@"
SH
chmod 755 "$STAGE/usr/bin/pkg-config"

find "$STAGE" -type d -empty -delete

# ---- check -------------------------------------------------------------------------------------
left="$(grep -rnE '(^|["( =;]|-[IL])/usr(/|"|[[:space:]]|;|\)|$)' --include='*.pc' --include='*.cmake' "$STAGE/usr" |
        grep -vE '^[^:]*:[0-9]+:[[:space:]]*#' || true)"
[ -z "$left" ] || die "absolute /usr paths left in: $left"
for f in "$LIB/libfmt.so" "$LIB/libbenchmark.so" "$LIB/libz.so" "$LIB/libgtest.a" "$LIB/libgmock.a" \
         "$LIB/libgfortran.so.5" "$LIB/libquadmath.so.0" "$BLAS/libopenblas.so" "$BLAS/libopenblas.so.0" \
         "$BLAS/pkgconfig/openblas.pc" "$LIB/cmake/fmt/fmt-config.cmake" "$LIB/cmake/GTest/GTestConfig.cmake" \
         "$LIB/cmake/benchmark/benchmarkConfig.cmake" "$STAGE/usr/include/CLI/CLI.hpp" \
         "$STAGE/usr/include/nlohmann/json.hpp" "$STAGE/usr/include/stb/stb_image.h" \
         "$STAGE/usr/include/zlib.h" "$STAGE/usr/include/$MULTIARCH/openblas-pthread/cblas.h"; do
  [ -e "$f" ] || die "missing after unpacking: ${f#"$STAGE"/}"
done
blas_libdir="$(PKG_CONFIG_LIBDIR="$BLAS/pkgconfig" "$STAGE/usr/bin/pkg-config" --variable=libdir openblas)" ||
  die "the bundled pkg-config cannot read openblas.pc"
[ "$(realpath -m "$blas_libdir")" = "$(realpath "$BLAS")" ] ||
  die "the relocated openblas.pc points to $blas_libdir, not into the folder"

# libopenblas (36 MB: kernels for every x86-64 generation) travels xz-compressed (about 4 MB):
# tools/gpu_check.sh unpacks every FILE.xz here to FILE before it configures.
while IFS= read -r -d '' big; do
  xz -6 -T2 "$big"
done < <(find "$STAGE/usr" -type f -size +8M -print0)

# ---- install -----------------------------------------------------------------------------------
rm -rf "$DEST"
mkdir -p "$(dirname "$DEST")"
mv "$STAGE" "$DEST"
echo "gpu_deps: $DEST ($(du -sh "$DEST" | cut -f1)) from $(grep -c . "$DEST/PACKAGES") packages:"
sed 's/^/  /' "$DEST/PACKAGES"
echo "gpu_deps: on the GPU machine: carry [\".gpu-deps\"], command 'bash tools/gpu_check.sh'"
