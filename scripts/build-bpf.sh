#!/usr/bin/env bash
# Compiles every bpf/*.c to build/bpf/<name>.o and test/fixtures/bpf/*.c to
# build/bpf/test/<name>.o. Rebuilds an object only when its source or any header
# under bpf/lib is newer, so a second run does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

CLANG=${CLANG:-clang}
ARCH_INC="/usr/include/$(uname -m)-linux-gnu"
CFLAGS=(-O2 -g -target bpf -Wall -Werror -Wno-unused-function -Ibpf -Ibpf/lib -I"$ARCH_INC"
  -D__TARGET_ARCH_x86 -mcpu=v3 -fno-stack-protector)

build_dir() {
  local src_dir=$1 out_dir=$2
  mkdir -p "$out_dir"
  shopt -s nullglob
  for src in "$src_dir"/*.c; do
    local name out
    name=$(basename "$src" .c)
    out="$out_dir/$name.o"
    if [[ -f "$out" && "$out" -nt "$src" ]] && [[ -z "$(find bpf/lib -newer "$out" -name '*.h' 2>/dev/null | head -1)" ]]; then
      continue
    fi
    echo "  BPF   $src -> $out"
    "$CLANG" "${CFLAGS[@]}" -c "$src" -o "$out.tmp"
    mv "$out.tmp" "$out"
  done
}

build_dir bpf build/bpf
build_dir test/fixtures/bpf build/bpf/test
