#!/usr/bin/env bash
# Sets up everything Fairway needs, from nothing, idempotently: Debian packages,
# kernel mounts (bpffs), npm packages, BPF objects, the native binding and the
# bundled entry points. Each step checks first and does nothing when its result is
# already up to date, so a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }

# Debian packages the build, the datapath and the tests use.
PACKAGES=(
  clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config make g++ python3
  iproute2 iptables iputils-ping netcat-openbsd iperf3 procps
)

missing_packages() {
  local p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

ensure_packages() {
  local missing
  missing=$(missing_packages)
  [[ -z "$missing" ]] && return 0
  if [[ $(id -u) -ne 0 ]]; then
    say "missing Debian packages: $missing — run setup as root to install them"; exit 1
  fi
  say "installing Debian packages: $missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

ensure_mounts() {
  [[ $(id -u) -ne 0 ]] && return 0
  if ! mountpoint -q /sys/fs/bpf; then
    say "mounting bpffs at /sys/fs/bpf"
    mkdir -p /sys/fs/bpf && mount -t bpf bpf /sys/fs/bpf
  fi
  if ! grep -q ' cgroup2 ' /proc/mounts; then
    say "mounting cgroup2 at /sys/fs/cgroup/unified"
    mkdir -p /sys/fs/cgroup/unified && mount -t cgroup2 none /sys/fs/cgroup/unified
  fi
}

ensure_npm() {
  local want have=""
  want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
  [[ -f node_modules/.fairway-lock ]] && have=$(cat node_modules/.fairway-lock)
  [[ "$want" == "$have" ]] && return 0
  say "installing npm packages"
  # better-sqlite3 compiles from source (no prebuilt downloads here): point
  # node-gyp at the installed Node headers.
  local flag; flag=$(nodedir_flag)
  [[ -n "$flag" ]] && export npm_config_nodedir=${flag#--nodedir=}
  # `npm install`, not `npm ci`: the registry reachable here lacks the optional
  # per-platform packages of some tools (e.g. Biome's Android/Windows builds),
  # which npm ci treats as a lock mismatch. The lock still pins every version.
  npm install --no-audit --no-fund --loglevel=error
  cat package.json package-lock.json | sha256sum | cut -d' ' -f1 > node_modules/.fairway-lock
}

# Node headers: node-gyp cannot download them here, Debian/NodeSource ship them.
nodedir_flag() {
  for d in /usr /usr/local; do
    [[ -f "$d/include/node/node_api.h" ]] && { echo "--nodedir=$d"; return; }
  done
}

ensure_native() {
  local out=native/build/Release/fairway_native.node
  if [[ -f "$out" ]] && [[ -z "$(find native/src native/binding.gyp -newer "$out" 2>/dev/null | head -1)" ]]; then
    return 0
  fi
  say "building the native binding"
  # shellcheck disable=SC2046
  npx node-gyp rebuild --directory native $(nodedir_flag) --loglevel=error >/dev/null
}

# The CNI plugin's C front end (native/cni/fairway-cni.c): libc only.
ensure_cni_frontend() {
  local src=native/cni/fairway-cni.c out=build/bin/fairway-cni
  [[ -f "$out" && ! "$src" -nt "$out" ]] && return 0
  say "building the CNI front end ($out)"
  mkdir -p build/bin
  gcc -std=c11 -O2 -Wall -Wextra -Werror -o "$out" "$src"
}

WITH_TEST_TOOLS=0
for arg in "$@"; do
  case "$arg" in
    --test-tools) WITH_TEST_TOOLS=1 ;;
    *) say "unknown option $arg (known: --test-tools)"; exit 2 ;;
  esac
done

ensure_packages
ensure_mounts
ensure_npm
bash scripts/build-bpf.sh
ensure_native
ensure_cni_frontend
node scripts/build.mjs
# Peers the tests run against: a real kube-apiserver + etcd built from the Go
# module proxy (minutes the first time, nothing after).
if [[ $WITH_TEST_TOOLS -eq 1 ]]; then
  bash scripts/get-kube-apiserver.sh
  # Rootful podman (CNI backend) and its local busybox image, for the podman
  # e2e tests and bench/cni-latency.ts (seconds the first time, <1 s after).
  bash scripts/setup-podman.sh
fi
say "ready"
