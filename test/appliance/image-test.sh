#!/bin/bash
# image-test.sh: exercises provisioning/build-image.sh without Raspberry Pi
# OS (which cannot be downloaded here) on a synthetic image of the same
# shape: a DOS partition table, a FAT boot partition with config.txt (made with
# mkfs.vfat + mtools) and an ext4 root holding Debian trixie arm64 (the
# appliance cache's root file system) with a stand-in /usr/bin/cloud-init
# (build-image.sh looks for cloud-init to choose Imager's init_format; the
# real one under qemu-user costs minutes and is not what is tested here),
# xz-compressed.
#
#   test/appliance/image-test.sh [--cache DIR] [--deb FILE]
#
# Checks: clear refusals, each leaving nothing mounted: a random file, an
# amd64 package, a --base-url without a scheme, an image with neither
# cloud-init nor Raspberry Pi OS's firstboot, and an image whose package
# mirror cannot be reached ("the package mirror could not be reached", not
# apt's "Unable to locate package"). Then the real build: the output .img.xz
# keeps the two partitions; the root has simhive installed and enabled,
# mosquitto, nftables enabled with SSH, the partner port and mDNS open,
# journald volatile, no policy-rc.d left; the boot partition has simhive.yaml;
# the Imager OS list has every key rpi-imager's os-list schema requires,
# "init_format": "cloudinit-rpi" (the image has cloud-init), and file:// URLs
# (the default: a local manifest) of the image and icon that exist, with the
# sizes and sha256 of what is there.
# Needs root, the caches of test/appliance/cache.sh, mtools, dosfstools,
# fdisk, e2fsprogs (debugfs), node, and the Debian archive (apt inside the
# image).
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
source_root="${cache}/rootfs"
[[ -f "${source_root}/.complete" ]] || { echo "image-test.sh: no ${source_root}: run test/appliance/cache.sh first" >&2; exit 2; }

passed=0
failed=0
ok() { echo "PASS  $*"; passed=$((passed + 1)); }
bad() { echo "FAIL  $*"; failed=$((failed + 1)); }
log() { printf 'image-test.sh: [%s] %s\n' "$(date +%T)" "$*"; }
expect() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

work="$(mktemp -d /var/tmp/simhive-image-test.XXXXXX)"
check_mnt=""
check_loop=""
cleanup() {
  if [[ -n "${check_mnt}" ]] && mountpoint -q "${check_mnt}"; then umount "${check_mnt}" || true; fi
  if [[ -n "${check_loop}" ]]; then losetup -d "${check_loop}" || true; fi
  rm -rf --one-file-system "${work}"
}
trap cleanup EXIT

if [[ -z "${deb}" ]]; then
  log "building the arm64 package"
  "${repo}/packaging/build-deb.sh" --arch arm64 > "${work}/build-deb.log" 2>&1 || { tail -20 "${work}/build-deb.log"; exit 1; }
  deb="$(find "${repo}/build" -maxdepth 1 -name 'simhive_*_arm64.deb' -printf '%T@ %p\n' | sort -rn | head -1 | cut -d' ' -f2-)"
fi

# --- the synthetic "Raspberry Pi OS Lite" images ----------------------------------------------
# make_image ROOT_EXT4 OUT.img: the DOS label, the FAT boot partition, ROOT_EXT4.
boot_mb=64
truncate -s "${boot_mb}M" "${work}/boot.fat"
mkfs.vfat -n bootfs "${work}/boot.fat" >/dev/null
printf 'arm_64bit=1\n' > "${work}/config.txt"
mcopy -i "${work}/boot.fat" "${work}/config.txt" ::config.txt
make_image() {
  local root_mb
  root_mb=$(( $(stat -c %s "$1") / 1048576 ))
  truncate -s $(( 4 + boot_mb + root_mb ))M "$2"
  sfdisk -q "$2" <<EOF
label: dos
start=8192, size=$(( boot_mb * 2048 )), type=c
start=$(( 8192 + boot_mb * 2048 )), type=83
EOF
  dd if="${work}/boot.fat" of="$2" bs=1M seek=4 conv=notrunc,sparse status=none
  dd if="$1" of="$2" bs=1M seek=$(( 4 + boot_mb )) conv=notrunc,sparse status=none
}
log "synthetic image from ${source_root}"
root_src="${work}/rootfs"
cp -a "${source_root}" "${root_src}"
rm -f "${root_src}/.complete"
printf '#!/bin/sh\necho "cloud-init stand-in (image-test.sh)"\n' > "${root_src}/usr/bin/cloud-init"
chmod 0755 "${root_src}/usr/bin/cloud-init"
mkfs.ext4 -q -F -L rootfs -d "${root_src}" "${work}/root.ext4" "$(( $(du -sm "${root_src}" | cut -f1) + 200 ))M"
rm -rf "${root_src}"
img="${work}/raspios-synthetic.img"
make_image "${work}/root.ext4" "${img}"
# The broken variant: no cloud-init (nor firstboot), and a mirror nobody answers on.
printf 'deb http://127.0.0.1:9/debian trixie main\n' > "${work}/unreachable.list"
debugfs -w -R "rm /usr/bin/cloud-init" "${work}/root.ext4" >/dev/null 2>&1
debugfs -w -f - "${work}/root.ext4" >/dev/null 2>&1 <<EOF
rm /etc/apt/sources.list
write ${work}/unreachable.list /etc/apt/sources.list
EOF
broken="${work}/broken.img"
make_image "${work}/root.ext4" "${broken}"
rm -f "${work}/root.ext4"
xz -T0 -0 "${img}"

loops_before="$(losetup -a | sort)"
mounts_before="$(sort /proc/mounts)"
leftovers() {
  [[ "$(losetup -a | sort)" == "${loops_before}" && "$(sort /proc/mounts)" == "${mounts_before}" ]]
}
build() { "${repo}/provisioning/build-image.sh" --out "${work}/out" --work "${work}" "$@" 2>&1; }
# refused NAME MESSAGE ARGS...: build-image.sh fails, says MESSAGE, leaves nothing behind.
refused() {
  local name="$1" message="$2" out; shift 2
  if out="$(build "$@")"; then
    bad "${name}: accepted"
  elif grep -q -- "${message}" <<<"${out}" && leftovers; then
    ok "${name}: refused ($(grep 'error:' <<<"${out}" | head -1 | sed 's/^build-image.sh: error: //')), nothing left mounted"
  else
    bad "${name}: unexpected message or leftovers"; echo "${out}" | tail -15
  fi
}

# --- refusals first: they are quick ---------------------------------------------------------------
head -c 4M /dev/urandom | xz -0 > "${work}/garbage.img.xz"
refused "a random image" 'no partition table' --image "${work}/garbage.img.xz" --deb "${deb}"
# An amd64 package: only its control file matters to the check.
mkdir -p "${work}/amd64/DEBIAN"
printf 'Package: simhive\nVersion: 0.0.1\nArchitecture: amd64\nMaintainer: test <test@example.invalid>\nDescription: test\n' > "${work}/amd64/DEBIAN/control"
dpkg-deb --root-owner-group -b "${work}/amd64" "${work}/simhive_0.0.1_amd64.deb" >/dev/null
refused "an amd64 package" 'needs arm64' --image "${img}.xz" --deb "${work}/simhive_0.0.1_amd64.deb"
refused "a --base-url without a scheme" 'must be an http://, https:// or file:// URL' --image "${img}.xz" --deb "${deb}" --base-url hub.example/images
refused "an image without cloud-init or firstboot" 'neither cloud-init nor' --image "${broken}" --deb "${deb}"
refused "an unreachable package mirror" 'the package mirror could not be reached' --image "${broken}" --deb "${deb}" --init-format systemd
rm -f "${broken}"

# --- the real run --------------------------------------------------------------------------------
printf 'hub:\n  id: image-test\nmodems:\n  ports: ["/dev/simhive/*"]\n' > "${work}/simhive.yaml"
log "build-image.sh"
start="${SECONDS}"
if "${repo}/provisioning/build-image.sh" --image "${img}.xz" --deb "${deb}" --config "${work}/simhive.yaml" \
  --out "${work}/out" --work "${work}" --grow 512 --xz-level 1 | tee "${work}/build.log"; then
  ok "build-image.sh ($((SECONDS - start)) s)"
else
  bad "build-image.sh"
fi
if leftovers; then ok "nothing left mounted, no loop device left"; else bad "mounts or loop devices left behind"; fi

result="$(find "${work}/out" -maxdepth 1 -name 'simhive-*.img.xz' 2>/dev/null | head -1)"
if [[ -n "${result}" ]]; then
  ok "output $(basename "${result}") ($(du -h "${result}" | cut -f1))"
  xz -dc "${result}" > "${work}/result.img"
  # The OS list: rpi-imager's doc/json-schema/os-list-schema.json requires
  # name, description, icon, url, extract_size, extract_sha256,
  # image_download_size, release_date for an OS entry; its schema notes add
  # devices; doc/os_customisation_formats.md lists the init_format values.
  # shellcheck disable=SC2016 # JavaScript, not shell
  if os_list="$(node -e '
    const fs = require("fs"), { fileURLToPath } = require("url");
    const [json, image] = process.argv.slice(1);
    const problems = [];
    let doc;
    try { doc = JSON.parse(fs.readFileSync(json, "utf8")); } catch (e) { console.log(`not JSON: ${e.message}`); process.exit(1); }
    if (!Array.isArray(doc.os_list) || doc.os_list.length !== 1) { console.log("os_list is not an array of one entry"); process.exit(1); }
    const os = doc.os_list[0];
    const types = { name: "string", description: "string", icon: "string", url: "string", extract_size: "integer",
      extract_sha256: "string", image_download_size: "integer", image_download_sha256: "string", release_date: "string",
      init_format: "string", devices: "array" };
    for (const [key, type] of Object.entries(types)) {
      const value = os[key];
      const okType = type === "integer" ? Number.isInteger(value) && value > 0 : type === "array" ? Array.isArray(value) && value.length > 0 && value.every((d) => typeof d === "string") : typeof value === type && value.length > 0;
      if (!okType) problems.push(`${key}: ${JSON.stringify(value)} is not a ${type}`);
    }
    if (!/^\d{4}-\d{2}-\d{2}$/.test(os.release_date)) problems.push("release_date is not YYYY-MM-DD");
    if (os.init_format !== "cloudinit-rpi") problems.push(`init_format ${os.init_format}, cloudinit-rpi expected (the image has cloud-init)`);
    const path = (url, what) => { if (!/^file:\/\//.test(url)) { problems.push(`${what} ${url} is not a file:// URL`); return undefined; } const p = fileURLToPath(url); if (!fs.existsSync(p)) problems.push(`${what} ${p} does not exist`); return p; };
    const sha256 = (file) => require("child_process").execFileSync("sha256sum", [file], { encoding: "utf8" }).split(" ")[0];
    const download = path(os.url, "url");
    if (download && fs.existsSync(download)) {
      if (!download.endsWith(".img.xz")) problems.push("url is not an .img.xz");
      if (fs.statSync(download).size !== os.image_download_size) problems.push("image_download_size differs from the file");
      if (sha256(download) !== os.image_download_sha256) problems.push("image_download_sha256 differs from the file");
    }
    if (fs.statSync(image).size !== os.extract_size) problems.push("extract_size differs from the image");
    if (sha256(image) !== os.extract_sha256) problems.push("extract_sha256 differs from the image");
    const icon = path(os.icon, "icon");
    if (icon && fs.existsSync(icon) && !fs.readFileSync(icon).subarray(0, 8).equals(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]))) problems.push("icon is not a PNG");
    if (problems.length) { console.log(problems.join("; ")); process.exit(1); }
    console.log(`${os.init_format}, ${os.devices.join(" ")}, ${os.url}`);
  ' "${result%.img.xz}.json" "${work}/result.img")"; then
    ok "Imager OS list: every required key, ${os_list}; sizes and sha256 match the files"
  else
    bad "Imager OS list ${result%.img.xz}.json: ${os_list}"
  fi
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
  expect "simhive installed (/usr/bin/simhive, app)" "[[ -x '${r}/usr/bin/simhive' && -f '${r}/usr/lib/simhive/app/core/main.js' ]]"
  expect "simhive.service and the import unit enabled" "[[ -L '${r}/etc/systemd/system/multi-user.target.wants/simhive.service' && -L '${r}/etc/systemd/system/multi-user.target.wants/simhive-import-config.service' ]]"
  expect "user simhive exists, in dialout" "grep -q '^simhive:' '${r}/etc/passwd' && grep -qE '^dialout:.*simhive' '${r}/etc/group'"
  expect "mosquitto installed" "grep -q '^Package: mosquitto$' '${r}/var/lib/dpkg/status'"
  expect "nftables enabled, policy drop" "[[ -L '${r}/etc/systemd/system/sysinit.target.wants/nftables.service' || -L '${r}/etc/systemd/system/multi-user.target.wants/nftables.service' ]] && grep -q 'policy drop' '${r}/etc/nftables.conf'"
  expect "firewall: SSH and the partner port 8080 open" "grep -q 'tcp dport 22 accept' '${r}/etc/nftables.conf' && grep -q 'tcp dport 8080 accept' '${r}/etc/nftables.conf'"
  expect "firewall: mDNS (udp 5353, IPv4 and IPv6) open, so simhive.local resolves" "grep -q 'udp dport 5353 ip daddr 224.0.0.251 accept' '${r}/etc/nftables.conf' && grep -q 'udp dport 5353 ip6 daddr ff02::fb accept' '${r}/etc/nftables.conf'"
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
