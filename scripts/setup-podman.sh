#!/usr/bin/env bash
# Sets up rootful podman as the real container runtime of Fairway's e2e tests
# (test/e2e/podman-*.test.ts) and the CNI latency benchmark (bench/cni-latency.ts),
# idempotently: Debian packages, podman's configuration, and the local image
# localhost/fairway-busybox:latest (there is no container registry here, so the
# image is built from Debian's busybox-static). Every step checks first and does
# nothing when already done, so a second run takes well under a second.
#
# What works on these VMs, and why each setting is what it is:
#   - Rootful podman only (the tests create network namespaces and load BPF).
#   - network_backend = "cni": Fairway is a CNI plugin. Debian 12's podman 4.3
#     also knows netavark; we do not install it, and pin "cni" so a later
#     install cannot switch the backend underneath the tests.
#   - cni_plugin_dirs: /opt/cni/bin (where fairway-agent installs fairway-cni)
#     and /usr/lib/cni (Debian's reference plugins: bridge, host-local, loopback).
#   - runtime = "runc", not crun: the VMs run cgroups in *hybrid* mode (v1
#     controllers on a tmpfs /sys/fs/cgroup, plus cgroup2 at
#     /sys/fs/cgroup/unified that still offers the hugetlb controller). crun 1.8
#     refuses that ("cgroups in hybrid mode not supported, drop all controllers
#     from cgroupv2"); runc handles it.
#   - cgroup_manager = "cgroupfs": PID 1 is not systemd and there is no D-Bus,
#     so the systemd manager cannot create scopes.
#   - events_logger = "file": no journald.
#   - default_ulimits = []: root here lacks CAP_SYS_RESOURCE, so podman's
#     default nofile=1048576 / nproc limits fail in setrlimit ("OCI permission
#     denied"); with no defaults containers inherit the caller's limits (the
#     same as `--ulimit host`, without every caller having to remember it).
#   - storage driver "vfs", not overlay: overlay does work here (ext4, native
#     diff), but vfs mounts nothing, so a podman or test killed half-way never
#     leaves an overlay mount that blocks cleanup, and it works on any backing
#     filesystem (tmpfs, xfs without d_type, overlayfs roots of nested VMs).
#     Its cost, a copy of the image per container, is ~2 MB for our image:
#     measured equal to overlay (~0.2 s per `podman run`).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup-podman] %s\n' "$*"; }

PACKAGES=(podman runc conmon containernetworking-plugins busybox-static iproute2)
CONF_DIR=/etc/containers
DROPIN=$CONF_DIR/containers.conf.d/50-fairway.conf
STORAGE_CONF=$CONF_DIR/storage.conf
IMAGE=localhost/fairway-busybox:latest
# Applets the tests and benchmarks use; the image has every applet, these are checked.
REQUIRED_APPLETS=(sh httpd wget nc ping ip)

if [[ $(id -u) -ne 0 ]]; then
  say "needs root (rootful podman, /etc/containers)"; exit 1
fi

ensure_packages() {
  local p missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Writes $1 with the content on stdin when it differs; prints "changed" if it did.
write_if_changed() {
  local path=$1 content
  content=$(cat)
  if [[ -f "$path" ]] && [[ "$(cat "$path")" == "$content" ]]; then return 0; fi
  mkdir -p "$(dirname "$path")"
  # Someone else's file: keep a copy before replacing it.
  if [[ -f "$path" ]] && ! grep -q "setup-podman.sh" "$path" && [[ ! -f "$path.fairway-bak" ]]; then
    cp -p "$path" "$path.fairway-bak"
  fi
  printf '%s\n' "$content" > "$path.tmp.$$"
  mv "$path.tmp.$$" "$path"
  echo changed
}

ensure_config() {
  local changed
  changed=$(write_if_changed "$DROPIN" <<'EOF'
# Written by Fairway's scripts/setup-podman.sh; the reasons are in its header.
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"

[network]
network_backend = "cni"
cni_plugin_dirs = ["/opt/cni/bin", "/usr/lib/cni"]
EOF
  )
  [[ -n "$changed" ]] && say "wrote $DROPIN"
  changed=$(write_if_changed "$STORAGE_CONF" <<'EOF'
# Written by Fairway's scripts/setup-podman.sh: vfs mounts nothing (see its header).
[storage]
driver = "vfs"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
EOF
  )
  if [[ -n "$changed" ]]; then say "wrote $STORAGE_CONF (driver vfs)"; fi
  mkdir -p /opt/cni/bin /etc/cni/net.d
}

# A store created earlier with another driver makes podman refuse to start
# ("database storage graph driver ... does not match"). Reset it only when it
# holds no containers; otherwise stop and say what to do.
ensure_store() {
  local out
  if out=$(podman info --format '{{.Store.GraphDriverName}} {{.Host.NetworkBackend}} {{.Host.OCIRuntime.Name}}' 2>&1); then
    if [[ "$out" == "vfs cni runc" ]]; then return 0; fi
    say "podman reports '$out', want 'vfs cni runc'"; exit 1
  fi
  if [[ "$out" != *"does not match"* ]]; then
    say "podman does not work: $out"; exit 1
  fi
  local old
  old=$(grep -o 'graph driver "[a-z0-9]*"' <<<"$out" | head -1 | cut -d'"' -f2)
  if [[ -n "$old" ]] && [[ -n "$(podman --storage-driver "$old" ps -aq 2>/dev/null)" ]]; then
    say "the podman store holds $old containers; remove them (podman --storage-driver $old rm -af) and rerun"
    exit 1
  fi
  say "resetting the podman store (was ${old:-another driver}, now vfs; it held no containers)"
  podman --storage-driver "${old:-overlay}" system reset --force >/dev/null 2>&1 || true
  podman system reset --force >/dev/null 2>&1 || true
  podman info --format '{{.Store.GraphDriverName}}' >/dev/null
}

busybox_version() { dpkg-query -W -f='${Version}' busybox-static; }

# The image, labelled with the busybox-static version it was built from, so an
# upgrade of the package rebuilds it.
ensure_image() {
  local want have
  want=$(busybox_version)
  have=$(podman image inspect --format '{{index .Labels "fairway.busybox"}}' "$IMAGE" 2>/dev/null || true)
  [[ "$have" == "$want" ]] && return 0
  say "building $IMAGE from busybox-static $want"
  local root
  root=$(mktemp -d /tmp/fairway-busybox.XXXXXX)
  # shellcheck disable=SC2064
  trap "rm -rf '$root'" RETURN
  mkdir -p "$root"/{bin,etc,tmp,proc,sys,dev,root,www,var/run}
  chmod 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  local applet
  for applet in $(/bin/busybox --list); do
    [[ "$applet" == busybox ]] || ln -s busybox "$root/bin/$applet"
  done
  for applet in "${REQUIRED_APPLETS[@]}"; do
    [[ -L "$root/bin/$applet" ]] || { say "busybox-static lacks the $applet applet"; exit 1; }
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
  echo fairway-busybox > "$root/www/index.html"
  tar -C "$root" -cf "$root.tar" .
  local old_id
  old_id=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
  podman import --quiet \
    --change 'CMD ["/bin/sh"]' \
    --change 'ENV PATH=/bin' \
    --change "LABEL fairway.busybox=$want" \
    "$root.tar" "$IMAGE" >/dev/null
  rm -f "$root.tar"
  # The previous build is untagged now: remove it (only it).
  [[ -n "$old_id" ]] && podman rmi "$old_id" >/dev/null 2>&1 || true
}

ensure_packages
ensure_config
ensure_store
ensure_image
