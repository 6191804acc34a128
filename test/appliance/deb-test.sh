#!/bin/bash
# deb-test.sh: the Debian package's life cycle in an arm64 trixie chroot (a
# copy of the appliance cache, run through qemu-user): install (user,
# directories, enablement), upgrade over an operator-edited config (conffile
# kept), remove (data kept, service disabled), reinstall (enabled again),
# purge (data, config and links gone); and the two config routes of the
# image (simhive.yaml on the boot partition, cloud-init's user-data through
# import-config --unless-configured) not replacing each other.
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
r="${work}/root"
trap 'umount "${r}/proc" 2>/dev/null || true; rm -rf --one-file-system "${work}"' EXIT
cp -a "${cache}/rootfs" "${r}"
cp "${deb}" "${r}/tmp/simhive.deb"
in_root() { chroot "${r}" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"; }
wants="${r}/etc/systemd/system/multi-user.target.wants"

expect "package: /etc/simhive is 0750 in the .deb" "[[ \"\$(dpkg-deb -c '${deb}' | awk '\$6 == \"./etc/simhive/\" { print \$1 }')\" == drwxr-x--- ]]"
in_root dpkg -i /tmp/simhive.deb > "${work}/install.log" 2>&1 || { cat "${work}/install.log"; exit 1; }
expect "install: user simhive in dialout" "grep -q '^simhive:' '${r}/etc/passwd' && grep -qE '^dialout:.*simhive' '${r}/etc/group'"
expect "install: simhive.service enabled" "[[ -L '${wants}/simhive.service' ]]"
expect "install: /var/lib/simhive owned by simhive, 0750" "[[ \"\$(chroot '${r}' stat -c '%U %a' /var/lib/simhive)\" == 'simhive 750' ]]"
expect "install: config root:simhive 0640" "[[ \"\$(chroot '${r}' stat -c '%U:%G %a' /etc/simhive/config.yaml)\" == 'root:simhive 640' ]]"
expect "install: /etc/simhive root:simhive 0750" "[[ \"\$(chroot '${r}' stat -c '%U:%G %a' /etc/simhive)\" == 'root:simhive 750' ]]"
expect "install: config is the packaged default (/usr/lib/simhive/default-config.yaml)" "cmp -s '${r}/etc/simhive/config.yaml' '${r}/usr/lib/simhive/default-config.yaml'"

# The image's two config routes. import-config runs `simhive check` as user
# simhive (runuser, node under qemu-user): it needs /proc.
mount -t proc proc "${r}/proc"
import() { in_root /usr/lib/simhive/import-config "$@" > "${work}/import.log" 2>&1 || { cat "${work}/import.log"; return 1; }; }
printf 'hub:\n  id: from-cloud-init\n' > "${r}/run/simhive-cloud-init.yaml"
import --unless-configured /run/simhive-cloud-init.yaml /etc/simhive/config.yaml
expect "cloud-init route: imported over the packaged default" "grep -q from-cloud-init '${r}/etc/simhive/config.yaml' && [[ ! -e '${r}/run/simhive-cloud-init.yaml' ]]"
mkdir -p "${r}/boot/firmware"
printf 'hub:\n  id: from-boot-partition\n' > "${r}/boot/firmware/simhive.yaml"
import /boot/firmware/simhive.yaml /etc/simhive/config.yaml
expect "boot partition route: imported, previous kept" "grep -q from-boot-partition '${r}/etc/simhive/config.yaml' && grep -q from-cloud-init '${r}/etc/simhive/config.yaml.previous'"
printf 'hub:\n  id: from-cloud-init-later\n' > "${r}/run/simhive-cloud-init.yaml"
import --unless-configured /run/simhive-cloud-init.yaml /etc/simhive/config.yaml
expect "cloud-init route after the boot partition's: config kept, staged copy removed" "grep -q from-boot-partition '${r}/etc/simhive/config.yaml' && [[ ! -e '${r}/run/simhive-cloud-init.yaml' ]]"
umount "${r}/proc"

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
