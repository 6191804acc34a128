#!/bin/bash
# cache.sh: makes sure the appliance test's caches are there (see
# lib/base.sh and lib/kernel.sh): the trixie arm64 root file systems and the
# kernel with its initrd. CI runs it first, so that every later check (the
# static checks' trixie parts included) finds them; run.sh, deb-test.sh and
# image-test.sh need them too.
#
#   test/appliance/cache.sh [--rebuild]
#
# Needs root and the Debian archive. Default cache: /var/cache/simhive-appliance
# (SIMHIVE_APPLIANCE_CACHE).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/common.sh
source "${here}/lib/common.sh"
# shellcheck source=lib/base.sh
source "${here}/lib/base.sh"
# shellcheck source=lib/kernel.sh
source "${here}/lib/kernel.sh"

rebuild=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rebuild) rebuild=1; shift ;;
    -h|--help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
done
[[ "$(id -u)" == 0 ]] || die "needs root (debootstrap, chroot)"
need_tools debootstrap qemu-aarch64-static cpio xz depmod apt-get dpkg-deb zstd

begin base; build_base; end base
begin tools; build_tools_root; end tools
begin kernel; build_kernel; end kernel
summary
