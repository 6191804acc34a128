# shellcheck shell=bash disable=SC2034 # appliance_repo, suite: used by the sourcing scripts
# common.sh: what the appliance test's scripts share: messages, the cache
# directory, the Debian mirror, qemu-user for arm64 chroots, host apt on a
# private arm64 index, and unmounting what a killed chroot left behind.
# Sourced by run.sh and cache.sh; sets appliance_repo and cache.

appliance_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cache="${SIMHIVE_APPLIANCE_CACHE:-/var/cache/simhive-appliance}"
readonly suite=trixie

die() { echo "${0##*/}: error: $*" >&2; exit 1; }
log() { printf '%s: [%s] %s\n' "${0##*/}" "$(date +%T)" "$*"; }

# --- stage timing -------------------------------------------------------------------
declare -a stage_names=() stage_secs=()
stage_start=0
begin() { stage_start="${SECONDS}"; log "stage $1 ..."; }
end() {
  local secs=$((SECONDS - stage_start))
  stage_names+=("$1"); stage_secs+=("${secs}")
  log "stage $1: ${secs} s"
}
summary() {
  local i total=0
  echo "${0##*/}: stage times"
  for i in "${!stage_names[@]}"; do
    printf '  %-8s %4d s\n' "${stage_names[$i]}" "${stage_secs[$i]}"
    total=$((total + stage_secs[i]))
  done
  printf '  %-8s %4d s\n' total "${total}"
}

need_tools() {
  local tool
  for tool in "$@"; do
    command -v "${tool}" >/dev/null 2>&1 ||
      die "${tool} not found: apt-get install debootstrap qemu-user-static binfmt-support qemu-system-arm e2fsprogs cpio xz-utils kmod zstd mtools dosfstools"
  done
}

# unmount_below DIR: unmounts DIR and everything mounted below it, deepest
# first (debootstrap and chroots killed half-way leave proc, sys, dev/pts ...).
unmount_below() {
  local dir mnt
  dir="$(realpath -m "$1")"
  awk '{ print $2 }' /proc/mounts | sed 's/\\040/ /g' | while IFS= read -r mnt; do
    if [[ "${mnt}" == "${dir}" || "${mnt}" == "${dir}/"* ]]; then echo "${mnt}"; fi
  done | sort -r | while IFS= read -r mnt; do
    umount "${mnt}" 2>/dev/null || umount -l "${mnt}" || true
  done
}

# remove_tree DIR: rm -rf that never crosses into a mount left inside DIR.
remove_tree() {
  [[ -e "$1" ]] || return 0
  unmount_below "$1"
  rm -rf --one-file-system "$1"
}

# --- qemu-user for arm64 chroots ---------------------------------------------------------
ensure_binfmt() {
  if [[ ! -e /proc/sys/fs/binfmt_misc/status ]]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || die "cannot mount binfmt_misc"
  fi
  if [[ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
    command -v update-binfmts >/dev/null || die "update-binfmts not found (apt-get install binfmt-support)"
    update-binfmts --enable qemu-aarch64 || die "cannot register qemu-aarch64 with binfmt_misc"
  fi
}

# The mirror this machine's apt uses (Debian's archive), for debootstrap and
# the arm64 index.
mirror() {
  if [[ -n "${SIMHIVE_DEBIAN_MIRROR:-}" ]]; then echo "${SIMHIVE_DEBIAN_MIRROR}"; return; fi
  local uri
  uri="$(grep -rhoE '^URIs:[[:space:]]*\S+/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | awk '{print $2}' || true)"
  [[ -n "${uri}" ]] || uri="$(grep -rhoE '^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?\S+/debian/?[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk '{print $NF}' | head -1 || true)"
  echo "${uri:-http://deb.debian.org/debian}"
}

# apt_arm64 apt-get|apt-cache ARGS: host apt on a private arm64 index.
apt_arm64() {
  local program="$1"; shift
  "${program}" -q -o Dir::State="${cache}/apt/state" -o Dir::State::status="${cache}/apt/status" \
    -o Dir::Cache="${cache}/apt/cache" -o Dir::Etc::SourceList="${cache}/apt/sources.list" \
    -o Dir::Etc::SourceParts=/nonexistent -o Dir::Etc::Preferences=/nonexistent \
    -o Dir::Etc::PreferencesParts=/nonexistent -o APT::Architecture=arm64 \
    -o APT::Architectures::=arm64 -o Debug::NoLocking=1 -o APT::Sandbox::User=root "$@"
}
