#!/bin/bash
# deb-test.sh: the Debian package's life cycle in an arm64 trixie chroot (a
# copy of the appliance cache, run through qemu-user): install (user,
# directories, enablement), upgrade over an operator-edited config (conffile
# kept), remove (data kept, service disabled), reinstall (enabled again),
# purge (data, config and links gone).
#
#   test/appliance/deb-test.sh [--cache DIR] [--deb build/simhive_<v>_arm64.deb]
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly repo
cache="${SIMHIVE_APPLIANCE_CACHE:-/var/cache/simhive-appliance}"
deb="$(find "${repo}/build" -maxdepth 1 -name 'simhive_*_arm64.deb' 2>/dev/null | sort | tail -1)"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cache) cache="${2:?}"; shift 2 ;;
    --deb) deb="${2:?}"; shift 2 ;;
    *) echo "deb-test.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ "$(id -u)" == 0 ]] || { echo "deb-test.sh: needs root" >&2; exit 2; }
[[ -f "${cache}/rootfs/.complete" ]] || { echo "deb-test.sh: no cached root in ${cache}/rootfs: run test/appliance/run.sh first" >&2; exit 2; }
[[ -n "${deb}" && -f "${deb}" ]] || { echo "deb-test.sh: no arm64 package: packaging/build-deb.sh --arch arm64" >&2; exit 2; }

passed=0
failed=0
expect() { if eval "$2"; then echo "PASS  $1"; passed=$((passed + 1)); else echo "FAIL  $1"; failed=$((failed + 1)); fi; }

work="$(mktemp -d /var/tmp/simhive-deb-test.XXXXXX)"
trap 'rm -rf "${work}"' EXIT
r="${work}/root"
cp -a "${cache}/rootfs" "${r}"
cp "${deb}" "${r}/tmp/simhive.deb"
in_root() { chroot "${r}" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"; }
wants="${r}/etc/systemd/system/multi-user.target.wants"

in_root dpkg -i /tmp/simhive.deb > "${work}/install.log" 2>&1 || { cat "${work}/install.log"; exit 1; }
expect "install: user simhive in dialout" "grep -q '^simhive:' '${r}/etc/passwd' && grep -qE '^dialout:.*simhive' '${r}/etc/group'"
expect "install: simhive.service enabled" "[[ -L '${wants}/simhive.service' ]]"
expect "install: /var/lib/simhive owned by simhive, 0750" "[[ \"\$(chroot '${r}' stat -c '%U %a' /var/lib/simhive)\" == 'simhive 750' ]]"
expect "install: config root:simhive 0640" "[[ \"\$(chroot '${r}' stat -c '%U:%G %a' /etc/simhive/config.yaml)\" == 'root:simhive 640' ]]"

echo "# operator's edit" >> "${r}/etc/simhive/config.yaml"
in_root systemctl disable simhive.service > /dev/null 2>&1
in_root dpkg -i /tmp/simhive.deb > "${work}/upgrade.log" 2>&1 || { cat "${work}/upgrade.log"; exit 1; }
expect "upgrade: the operator's config is kept" "grep -q \"operator's edit\" '${r}/etc/simhive/config.yaml'"
expect "upgrade: an operator's disable is respected" "[[ ! -e '${wants}/simhive.service' ]]"
in_root systemctl enable simhive.service > /dev/null 2>&1

echo data > "${r}/var/lib/simhive/marker"
in_root dpkg -r simhive > "${work}/remove.log" 2>&1 || { cat "${work}/remove.log"; exit 1; }
expect "remove: data kept" "[[ -f '${r}/var/lib/simhive/marker' ]]"
expect "remove: service disabled, no dangling link" "[[ ! -e '${wants}/simhive.service' && ! -L '${wants}/simhive.service' ]]"
expect "remove: /usr/bin/simhive gone" "[[ ! -e '${r}/usr/bin/simhive' ]]"

in_root dpkg -i /tmp/simhive.deb > "${work}/reinstall.log" 2>&1 || { cat "${work}/reinstall.log"; exit 1; }
expect "reinstall after remove: enabled again" "[[ -L '${wants}/simhive.service' ]]"

in_root dpkg --purge simhive > "${work}/purge.log" 2>&1 || { cat "${work}/purge.log"; exit 1; }
expect "purge: /var/lib/simhive gone" "[[ ! -e '${r}/var/lib/simhive' ]]"
expect "purge: /etc/simhive gone" "[[ ! -e '${r}/etc/simhive' ]]"
expect "purge: no enablement links" "! find '${r}/etc/systemd/system' -name 'simhive*' | grep -q ."
expect "purge: dpkg forgot the package" "! grep -q '^Package: simhive$' '${r}/var/lib/dpkg/status'"

echo "${passed} passed, ${failed} failed"
[[ "${failed}" == 0 ]]
