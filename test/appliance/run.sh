#!/bin/bash
# run.sh: the appliance test. Boots a Debian trixie arm64 system with the
# simhive arm64 .deb installed under qemu-system-aarch64, with emulated modems
# on QEMU's USB bus and a FAT boot partition carrying simhive.yaml, and checks
# (guest/probe.sh) that the config is imported, simhive.service reaches READY,
# /readyz answers 200, every modem comes up (2/2, then 3/3 after a hot-plug),
# udev keeps ModemManager off the AT ports, `systemctl reload` works, a hung
# modem is power-cycled through simhive-uhubctl@.service, the hub never
# restarts, and a config error stops the unit instead of looping.
#
#   test/appliance/run.sh [--cache DIR] [--rebuild] [--keep] [--timeout SEC]
#                         [--deb FILE] [--allow-type-errors]
#
# Stages (each one's time is printed, and a summary at the end):
#   base     the cached trixie arm64 root file system (lib/base.sh)
#   kernel   the cached arm64 kernel and busybox initrd (lib/kernel.sh)
#   package  packaging/build-deb.sh --arch arm64, unless --deb names one
#   install  a copy of the base with the .deb installed by dpkg (lib/guest.sh)
#   image    mkfs.ext4 -d for the root, mkfs.vfat + mcopy for the boot partition
#   boot     qemu-system-aarch64 (TCG) until the probe's verdict (lib/boot.sh)
#
# Needs root (debootstrap, chroot, file ownership), and the Debian packages
# debootstrap qemu-user-static binfmt-support qemu-system-arm e2fsprogs cpio
# xz-utils kmod zstd mtools dosfstools; network: Debian's archive (first run,
# and `apt-get update` of the arm64 index) and the npm registry (the package
# build). Default cache: /var/cache/simhive-appliance (SIMHIVE_APPLIANCE_CACHE).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/common.sh
source "${here}/lib/common.sh"
# shellcheck source=lib/base.sh
source "${here}/lib/base.sh"
# shellcheck source=lib/kernel.sh
source "${here}/lib/kernel.sh"
# shellcheck source=lib/guest.sh
source "${here}/lib/guest.sh"
# shellcheck source=lib/boot.sh
source "${here}/lib/boot.sh"

rebuild=0
keep=0
timeout_s=900
deb=""
allow_type_errors=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cache) cache="${2:?--cache needs a directory}"; shift 2 ;;
    --rebuild) rebuild=1; shift ;;
    --keep) keep=1; shift ;;
    --timeout) timeout_s="${2:?--timeout needs seconds}"; shift 2 ;;
    --deb) deb="${2:?--deb needs a file}"; shift 2 ;;
    --allow-type-errors) allow_type_errors=1; shift ;;
    -h|--help) sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
done

[[ "$(id -u)" == 0 ]] || die "needs root (debootstrap, chroot, image ownership)"
need_tools debootstrap qemu-system-aarch64 qemu-aarch64-static mkfs.ext4 mkfs.vfat mcopy mdir cpio xz depmod apt-get dpkg-deb node
[[ -z "${deb}" || -f "${deb}" ]] || die "--deb ${deb}: no such file"

work="$(mktemp -d /var/tmp/simhive-appliance.XXXXXX)"
cleanup() {
  local rc=$?
  stop_guest
  unmount_below "${work}"
  if [[ "${keep}" == 1 ]]; then log "kept ${work}"; else remove_tree "${work}"; fi
  exit "${rc}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

begin base; build_base; end base
begin kernel; build_kernel; end kernel
if [[ -z "${deb}" ]]; then
  begin package
  build_args=(--arch arm64)
  [[ "${allow_type_errors}" == 1 ]] && build_args+=(--allow-type-errors)
  "${appliance_repo}/packaging/build-deb.sh" "${build_args[@]}"
  deb="$(find "${appliance_repo}/build" -maxdepth 1 -name 'simhive_*_arm64.deb' -printf '%T@ %p\n' | sort -rn | head -1 | cut -d' ' -f2-)"
  end package
fi
[[ "$(dpkg-deb -f "${deb}" Architecture)" == arm64 ]] || die "${deb} is not an arm64 package"
log "package: ${deb}"
begin install; prepare_root; end install
begin image; make_images; end image
begin boot; boot; end boot
summary
echo "run.sh: PASS"
