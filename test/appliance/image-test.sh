#!/bin/bash
# image-test.sh: exercises provisioning/build-image.sh without Raspberry Pi
# OS (which cannot be downloaded here) on a synthetic image of the same
# shape: a DOS partition table, a FAT boot partition with config.txt (made with
# mkfs.vfat + mtools) and an ext4 root holding Debian trixie arm64 (the
# appliance test's cached root file system), xz-compressed.
#
#   test/appliance/image-test.sh [--cache DIR] [--deb FILE]
#
# Checks: the build succeeds; the output .img.xz keeps the two partitions;
# the root has simhive installed and enabled, mosquitto, nftables enabled,
# journald volatile, no policy-rc.d left; the boot partition has
# simhive.yaml; the Imager OS list has "init_format": "cloudinit-rpi"; a wrong
# image and a wrong package fail with a clear message; after every run no
# mount and no loop device is left behind.
# Needs root, the cache of test/appliance/run.sh, and the Debian archive
# (apt inside the image).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly repo
cache="${SIMHIVE_APPLIANCE_CACHE:-/var/cache/simhive-appliance}"
deb=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cache) cache="${2:?}"; shift 2 ;;
    --deb) deb="${2:?}"; shift 2 ;;
    *) echo "image-test.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

[[ "$(id -u)" == 0 ]] || { echo "image-test.sh: needs root" >&2; exit 2; }
[[ -f "${cache}/rootfs/.complete" ]] || { echo "image-test.sh: no cached root in ${cache}/rootfs: run test/appliance/run.sh first" >&2; exit 2; }

passed=0
failed=0
ok() { echo "PASS  $*"; passed=$((passed + 1)); }
bad() { echo "FAIL  $*"; failed=$((failed + 1)); }
log() { printf 'image-test.sh: [%s] %s\n' "$(date +%T)" "$*"; }

work="$(mktemp -d /var/tmp/simhive-image-test.XXXXXX)"
check_mnt=""
check_loop=""
cleanup() {
  if [[ -n "${check_mnt}" ]] && mountpoint -q "${check_mnt}"; then umount "${check_mnt}" || true; fi
  if [[ -n "${check_loop}" ]]; then losetup -d "${check_loop}" || true; fi
  rm -rf "${work}"
}
trap cleanup EXIT

if [[ -z "${deb}" ]]; then
  log "building the arm64 package"
  "${repo}/packaging/build-deb.sh" --arch arm64 > "${work}/build-deb.log" 2>&1 || { tail -20 "${work}/build-deb.log"; exit 1; }
  deb="$(find "${repo}/build" -maxdepth 1 -name 'simhive_*_arm64.deb' -printf '%T@ %p\n' | sort -rn | head -1 | cut -d' ' -f2-)"
fi

# --- the synthetic "Raspberry Pi OS Lite" image ----------------------------------------------
log "synthetic image from ${cache}/rootfs"
root_src="${work}/rootfs"
cp -a "${cache}/rootfs" "${root_src}"
rm -f "${root_src}/.complete"
root_mb=$(( $(du -sm "${root_src}" | cut -f1) + 200 ))
boot_mb=64
truncate -s "${boot_mb}M" "${work}/boot.fat"
mkfs.vfat -n bootfs "${work}/boot.fat" >/dev/null
printf 'arm_64bit=1\n' > "${work}/config.txt"
mcopy -i "${work}/boot.fat" "${work}/config.txt" ::config.txt
mkfs.ext4 -q -F -L rootfs -d "${root_src}" "${work}/root.ext4" "${root_mb}M"
img="${work}/raspios-synthetic.img"
truncate -s $(( 4 + boot_mb + root_mb ))M "${img}"
sfdisk -q "${img}" <<EOF
label: dos
start=8192, size=$(( boot_mb * 2048 )), type=c
start=$(( 8192 + boot_mb * 2048 )), type=83
EOF
dd if="${work}/boot.fat" of="${img}" bs=1M seek=4 conv=notrunc status=none
dd if="${work}/root.ext4" of="${img}" bs=1M seek=$(( 4 + boot_mb )) conv=notrunc status=none
rm -rf "${root_src}" "${work}/boot.fat" "${work}/root.ext4"
xz -T0 -0 "${img}"

loops_before="$(losetup -a | sort)"
mounts_before="$(sort /proc/mounts)"
leftovers() {
  [[ "$(losetup -a | sort)" == "${loops_before}" && "$(sort /proc/mounts)" == "${mounts_before}" ]]
}

# --- failures first: they are quick -------------------------------------------------------------
head -c 4M /dev/urandom | xz -0 > "${work}/garbage.img.xz"
if out="$("${repo}/provisioning/build-image.sh" --image "${work}/garbage.img.xz" --deb "${deb}" --out "${work}/out" --work "${work}" 2>&1)"; then
  bad "a random image was accepted"
elif grep -q 'no partition table' <<<"${out}" && leftovers; then
  ok "a random image is refused ($(grep 'error:' <<<"${out}" | head -1 | sed 's/^build-image.sh: //')), nothing left mounted"
else
  bad "random image: unexpected message or leftovers"; echo "${out}"
fi
amd64_deb="$(find "${repo}/build" -maxdepth 1 -name 'simhive_*_amd64.deb' | head -1)"
if [[ -n "${amd64_deb}" ]]; then
  if out="$("${repo}/provisioning/build-image.sh" --image "${img}.xz" --deb "${amd64_deb}" --out "${work}/out" --work "${work}" 2>&1)"; then
    bad "an amd64 package was accepted"
  elif grep -q 'needs arm64' <<<"${out}"; then
    ok "an amd64 package is refused"
  else
    bad "amd64 package: unexpected message"; echo "${out}"
  fi
fi

# --- the real run --------------------------------------------------------------------------------
printf 'hub:\n  id: image-test\nmodems:\n  ports: ["/dev/simhive/*"]\n' > "${work}/simhive.yaml"
log "build-image.sh"
start="${SECONDS}"
if "${repo}/provisioning/build-image.sh" --image "${img}.xz" --deb "${deb}" --config "${work}/simhive.yaml" \
  --out "${work}/out" --work "${work}" --grow 512 --xz-level 1 --base-url https://hub.example/images | tee "${work}/build.log"; then
  ok "build-image.sh ($((SECONDS - start)) s)"
else
  bad "build-image.sh"
fi
if leftovers; then ok "nothing left mounted, no loop device left"; else bad "mounts or loop devices left behind"; fi

result="$(find "${work}/out" -maxdepth 1 -name 'simhive-*.img.xz' 2>/dev/null | head -1)"
if [[ -n "${result}" ]]; then
  ok "output $(basename "${result}") ($(du -h "${result}" | cut -f1))"
  json="${result%.img.xz}.json"
  if node -e '
    const list = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).os_list;
    const os = list[0];
    if (os.init_format !== "cloudinit-rpi" || !/^[0-9a-f]{64}$/.test(os.extract_sha256) || !os.url.endsWith(".img.xz")) process.exit(1);
  ' "${json}"; then ok "Imager OS list: init_format cloudinit-rpi, sizes and sha256"; else bad "Imager OS list ${json}"; fi
  xz -dc "${result}" > "${work}/result.img"
  table="$(sfdisk --dump "${work}/result.img")"
  boot_off=$(( $(sed -nE "s|^${work}/result.img1 : start= *([0-9]+).*|\\1|p" <<<"${table}") * 512 ))
  root_off=$(( $(sed -nE "s|^${work}/result.img2 : start= *([0-9]+).*|\\1|p" <<<"${table}") * 512 ))
  if mtype -i "${work}/result.img@@${boot_off}" ::simhive.yaml | grep -q image-test; then
    ok "boot partition carries simhive.yaml"
  else
    bad "boot partition has no simhive.yaml"
  fi
  check_loop="$(losetup --find --show --read-only --offset "${root_off}" "${work}/result.img")"
  check_mnt="${work}/check"
  mkdir -p "${check_mnt}"
  mount -o ro "${check_loop}" "${check_mnt}"
  r="${check_mnt}"
  expect() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
  expect "simhive installed (/usr/bin/simhive, app)" "[[ -x '${r}/usr/bin/simhive' && -f '${r}/usr/lib/simhive/app/core/main.js' ]]"
  expect "simhive.service and the import unit enabled" "[[ -L '${r}/etc/systemd/system/multi-user.target.wants/simhive.service' && -L '${r}/etc/systemd/system/multi-user.target.wants/simhive-import-config.service' ]]"
  expect "user simhive exists, in dialout" "grep -q '^simhive:' '${r}/etc/passwd' && grep -qE '^dialout:.*simhive' '${r}/etc/group'"
  expect "mosquitto installed" "grep -q '^Package: mosquitto$' '${r}/var/lib/dpkg/status'"
  expect "nftables enabled with SSH and 8080 only" "[[ -L '${r}/etc/systemd/system/sysinit.target.wants/nftables.service' || -L '${r}/etc/systemd/system/multi-user.target.wants/nftables.service' ]] && grep -q 'tcp dport 8080' '${r}/etc/nftables.conf' && grep -q 'policy drop' '${r}/etc/nftables.conf'"
  expect "journald Storage=volatile" "grep -q '^Storage=volatile' '${r}/etc/systemd/journald.conf.d/50-simhive-volatile.conf'"
  expect "no policy-rc.d left" "[[ ! -e '${r}/usr/sbin/policy-rc.d' ]]"
  expect "udev rules and modules-load installed" "[[ -f '${r}/usr/lib/udev/rules.d/70-simhive-modems.rules' && -f '${r}/usr/lib/modules-load.d/simhive.conf' ]]"
  umount "${check_mnt}"; check_mnt=""
  losetup -d "${check_loop}"; check_loop=""
else
  bad "no output image"
fi

echo "${passed} passed, ${failed} failed"
[[ "${failed}" == 0 ]]
