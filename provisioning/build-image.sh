#!/bin/bash
# build-image.sh: turns an official Raspberry Pi OS Lite (trixie, arm64)
# image into simhive-<version>.img.xz with the hub installed.
#
#   provisioning/build-image.sh --image 2025-xx-xx-raspios-trixie-arm64-lite.img.xz
#       --deb build/simhive_<version>_arm64.deb [--config simhive.yaml]
#       [--out DIR] [--grow MB] [--port 8080] [--no-mosquitto] [--no-firewall]
#       [--work DIR] [--base-url URL] [--init-format FORMAT] [--xz-level 0-9]
#
# What it does, with progress on stdout:
#   1. checks tools, free disk space and the image (two partitions: FAT boot,
#      ext4 root holding an arm64 Debian trixie);
#   2. decompresses it, grows the root partition by --grow MB (room for
#      nodejs, mosquitto and the hub; the Pi still expands it to the card at
#      first boot);
#   3. mounts the root partition by offset (a loop device) and, in a
#      qemu-user chroot, installs the .deb and its dependencies (nodejs) and
#      mosquitto with apt; no service starts in the chroot;
#   4. journald in RAM (Storage=volatile) to spare the SD card, an nftables
#      firewall that opens only SSH, the partner port (--port) and mDNS (so
#      that simhive.local resolves);
#   5. edits the FAT boot partition with mtools (no kernel vfat needed):
#      simhive.yaml (--config) or simhive.yaml.example, imported into
#      /etc/simhive/config.yaml (root:simhive 0640) at boot by
#      simhive-import-config.service;
#   6. unmounts, compresses to DIR/simhive-<version>.img.xz and writes
#      DIR/simhive-<version>.json, an OS list for Raspberry Pi Imager, and
#      its icon, DIR/simhive-icon.png. Its "init_format" is what the image
#      takes: "cloudinit-rpi" when it has cloud-init (recent Raspberry Pi OS
#      trixie), "systemd" (firstrun.sh) when it has Raspberry Pi OS's
#      firstboot instead (the first trixie release, 2025-10-01); neither is
#      refused unless --init-format says what to write. The image and icon
#      URLs are --base-url/<file> (where you will serve them; Imager: start
#      with --repo URL/simhive-<version>.json), or by default file:// URLs of
#      DIR, a local manifest for Imager's Content Repository -> "Use custom
#      file".
# Whatever fails, nothing stays mounted and no loop device stays attached.
# Needs root and: xz sfdisk losetup e2fsck resize2fs mtools qemu-user-static
# binfmt-support; network for apt inside the chroot (the image's own sources).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly repo
image_in=""
deb=""
config=""
out="${repo}/build"
grow_mb=1024
port=8080
mosquitto=1
firewall=1
work_parent="${TMPDIR:-/var/tmp}"
base_url=""
init_format=""
xz_level=6

total_steps=6
step_no=0
started="${SECONDS}"
die() { echo "build-image.sh: error: $*" >&2; exit 1; }
step() { step_no=$((step_no + 1)); printf 'build-image.sh: [%d/%d] [%3ds] %s\n' "${step_no}" "${total_steps}" "$((SECONDS - started))" "$*"; }
info() { printf 'build-image.sh:         %s\n' "$*"; }
# file_url PATH: file:// URL of an absolute path, percent-encoded.
file_url() {
  local path="$1" out="file://" i c LC_ALL=C
  for ((i = 0; i < ${#path}; i++)); do
    c="${path:i:1}"
    if [[ "${c}" =~ [A-Za-z0-9/._~-] ]]; then out+="${c}"; else out+="$(printf '%%%02X' "'${c}")"; fi
  done
  printf '%s' "${out}"
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --image) image_in="${2:?--image needs a file}"; shift 2 ;;
    --deb) deb="${2:?--deb needs a file}"; shift 2 ;;
    --config) config="${2:?--config needs a file}"; shift 2 ;;
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    --grow) grow_mb="${2:?--grow needs MB}"; shift 2 ;;
    --port) port="${2:?--port needs a port}"; shift 2 ;;
    --no-mosquitto) mosquitto=0; shift ;;
    --no-firewall) firewall=0; shift ;;
    --work) work_parent="${2:?--work needs a directory}"; shift 2 ;;
    --base-url) base_url="${2:?--base-url needs a URL}"; shift 2 ;;
    --init-format) init_format="${2:?--init-format needs cloudinit-rpi, systemd or none}"; shift 2 ;;
    --xz-level) xz_level="${2:?--xz-level needs 0-9}"; shift 2 ;;
    -h|--help) sed -n '2,42p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
done

# --- 1. checks -------------------------------------------------------------------------
step "checking tools, inputs and disk space"
[[ "$(id -u)" == 0 ]] || die "needs root (loop devices, mount, chroot)"
[[ -n "${image_in}" ]] || die "--image is required: the Raspberry Pi OS Lite trixie arm64 .img.xz you downloaded"
[[ -n "${deb}" ]] || die "--deb is required: build/simhive_<version>_arm64.deb from packaging/build-deb.sh --arch arm64"
[[ -f "${image_in}" ]] || die "image ${image_in} not found"
[[ -f "${deb}" ]] || die "package ${deb} not found"
[[ -z "${config}" || -f "${config}" ]] || die "config ${config} not found"
[[ "${grow_mb}" =~ ^[0-9]+$ ]] || die "--grow must be a number of MB"
[[ "${xz_level}" =~ ^[0-9]$ ]] || die "--xz-level must be 0..9"
[[ "${port}" =~ ^[0-9]+$ && "${port}" -gt 0 && "${port}" -lt 65536 ]] || die "--port must be 1..65535"
[[ -z "${init_format}" || "${init_format}" =~ ^(cloudinit-rpi|cloudinit|systemd|none)$ ]] ||
  die "--init-format must be cloudinit-rpi, cloudinit, systemd or none"
[[ -z "${base_url}" || "${base_url}" =~ ^(https?|file)://[^[:space:]\"\\]+$ ]] ||
  die "--base-url must be an http://, https:// or file:// URL (where the .img.xz and icon will be), got '${base_url}'"
missing=()
for tool in xz sfdisk losetup e2fsck resize2fs mount umount chroot mcopy mdir dpkg-deb sha256sum truncate blkid; do
  command -v "${tool}" >/dev/null 2>&1 || missing+=("${tool}")
done
[[ ${#missing[@]} -eq 0 ]] || die "missing tools: ${missing[*]} (apt-get install xz-utils fdisk mount e2fsprogs mtools dpkg util-linux)"
deb_arch="$(dpkg-deb -f "${deb}" Architecture)"
deb_version="$(dpkg-deb -f "${deb}" Version)"
[[ "$(dpkg-deb -f "${deb}" Package)" == simhive ]] || die "${deb} is not the simhive package"
[[ "${deb_arch}" == arm64 ]] || die "${deb} is for ${deb_arch}; the image needs arm64 (packaging/build-deb.sh --arch arm64)"
if [[ "$(uname -m)" != aarch64 ]]; then
  [[ -e /proc/sys/fs/binfmt_misc/status ]] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
  [[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]] || { command -v update-binfmts >/dev/null && update-binfmts --enable qemu-aarch64 >/dev/null 2>&1; } || true
  [[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]] ||
    die "cannot run arm64 programs here: apt-get install qemu-user-static binfmt-support"
fi

case "${image_in}" in
  *.xz) image_bytes="$(xz --robot --list "${image_in}" 2>/dev/null | awk '$1 == "totals" {print $5}')" ||
          die "${image_in} is not a valid .xz file"
        [[ -n "${image_bytes}" ]] || die "${image_in} is not a valid .xz file" ;;
  *.img) image_bytes="$(stat -c %s "${image_in}")" ;;
  *) die "${image_in}: expected a .img.xz (or .img)" ;;
esac
mkdir -p "${out}" "${work_parent}"
need_mb=$(( image_bytes / 1048576 + grow_mb + 256 ))
avail_mb="$(df -Pm "${work_parent}" | awk 'NR == 2 {print $4}')"
[[ "${avail_mb}" -ge "${need_mb}" ]] ||
  die "not enough disk in ${work_parent}: ${avail_mb} MB free, ${need_mb} MB needed (image ${image_bytes} bytes + --grow ${grow_mb} MB); use --work DIR"
out_avail_mb="$(df -Pm "${out}" | awk 'NR == 2 {print $4}')"
[[ "${out_avail_mb}" -ge $(( image_bytes / 1048576 / 2 )) ]] || die "not enough disk in ${out} for the compressed image"
info "image ${image_in} ($((image_bytes / 1048576)) MB uncompressed), package simhive ${deb_version}"

# --- cleanup, whatever happens ------------------------------------------------------------
work="$(mktemp -d "${work_parent}/simhive-image.XXXXXX")"
root="${work}/root"
loopdev=""
mounted=()
cleanup() {
  local rc=$? i
  for (( i=${#mounted[@]} - 1; i >= 0; i-- )); do
    umount "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" 2>/dev/null || true
  done
  if [[ -n "${loopdev}" ]]; then losetup -d "${loopdev}" 2>/dev/null || true; fi
  rm -rf "${work}"
  if [[ "${rc}" != 0 ]]; then echo "build-image.sh: failed; everything unmounted and ${work} removed" >&2; fi
  exit "${rc}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mount_at() { mount "$@"; mounted+=("${!#}"); }

# --- 2. decompress, check the layout, grow ------------------------------------------------
step "decompressing"
img="${work}/image.img"
case "${image_in}" in
  *.xz) xz -dc -T0 "${image_in}" > "${img}" || die "cannot decompress ${image_in}" ;;
  *) cp --sparse=always "${image_in}" "${img}" ;;
esac
table="$(sfdisk --dump "${img}" 2>/dev/null)" || die "${image_in} has no partition table: not a Raspberry Pi OS image"
part_line() { grep -E "^${img}$1 :" <<<"${table}" || true; }
p1="$(part_line 1)"; p2="$(part_line 2)"
[[ -n "${p1}" && -n "${p2}" && -z "$(part_line 3)" ]] ||
  die "expected two partitions (FAT boot, ext4 root) as in Raspberry Pi OS Lite; found: $(grep -c "^${img}" <<<"${table}")"
field() { sed -nE "s/.*$1= *([0-9a-fA-Fx]+).*/\\1/p" <<<"$2"; }
boot_start=$(( $(field start "${p1}") * 512 ))
root_start_sectors="$(field start "${p2}")"
root_start=$(( root_start_sectors * 512 ))
[[ "$(field type "${p1}")" =~ ^(c|b|e|0c|0b|0e)$ ]] || die "partition 1 is not FAT (type $(field type "${p1}")): not a Raspberry Pi OS image"
[[ "$(field type "${p2}")" == 83 ]] || die "partition 2 is not a Linux partition (type $(field type "${p2}")): not a Raspberry Pi OS image"
mdir -i "${img}@@${boot_start}" ::config.txt >/dev/null 2>&1 ||
  die "the boot partition has no config.txt: not a Raspberry Pi OS image"

if [[ "${grow_mb}" -gt 0 ]]; then
  info "growing the root partition by ${grow_mb} MB"
  truncate -s "+${grow_mb}M" "${img}"
  echo ", +" | sfdisk --no-reread --no-tell-kernel -q -N 2 "${img}" >/dev/null || die "sfdisk could not grow partition 2"
fi
table="$(sfdisk --dump "${img}")"
root_bytes=$(( $(field size "$(part_line 2)") * 512 ))

# --- 3. the root partition: mount by offset, install in a qemu-user chroot ----------------
step "installing simhive ${deb_version}$([[ "${mosquitto}" == 1 ]] && echo ", mosquitto")$([[ "${firewall}" == 1 ]] && echo ", nftables") in an arm64 chroot"
loopdev="$(losetup --find --show --offset "${root_start}" --sizelimit "${root_bytes}" "${img}")" ||
  die "no free loop device (losetup); in a container, give it /dev/loop*"
[[ "$(blkid -o value -s TYPE "${loopdev}" || true)" == ext4 ]] || die "partition 2 is not ext4: not a Raspberry Pi OS image"
e2fsck -fy "${loopdev}" >/dev/null 2>&1 || [[ $? -le 1 ]] || die "e2fsck found errors it could not fix on the root partition"
resize2fs "${loopdev}" >/dev/null 2>&1 || die "resize2fs failed on the root partition"
mkdir -p "${root}"
mount_at -t ext4 "${loopdev}" "${root}"
[[ -f "${root}/etc/os-release" ]] || die "the root partition has no /etc/os-release"
codename="$(sed -n 's/^VERSION_CODENAME=//p' "${root}/etc/os-release" | tr -d '"')"
[[ "${codename}" == trixie ]] || die "the image is Debian '${codename:-unknown}', simhive images are built on trixie"
machine="$(od -An -tx2 -j18 -N2 "${root}/bin/sh" 2>/dev/null | tr -d ' ' || true)"
[[ "${machine}" == 00b7 ]] || die "the image is not arm64 (ELF machine ${machine:-?} in /bin/sh); use the 64-bit Lite image"
free_mb="$(df -Pm "${root}" | awk 'NR == 2 {print $4}')"
[[ "${free_mb}" -ge 300 ]] || die "only ${free_mb} MB free on the root partition; raise --grow"
# How Imager may customise this image (user, Wi-Fi, SSH): see step 6.
if [[ -n "${init_format}" ]]; then
  info "Imager customisation format: ${init_format} (--init-format)"
elif [[ -x "${root}/usr/bin/cloud-init" && ! -e "${root}/etc/cloud/cloud-init.disabled" ]]; then
  init_format=cloudinit-rpi
  info "the image has cloud-init: Imager customisation format cloudinit-rpi"
elif [[ -e "${root}/usr/lib/raspberrypi-sys-mods/firstboot" ]]; then
  init_format=systemd
  info "the image has no cloud-init but Raspberry Pi OS's firstboot (the first trixie release): Imager customisation format systemd"
else
  die "the image has neither cloud-init nor Raspberry Pi OS's firstboot, so Imager could not customise it (user, Wi-Fi, SSH): use a Raspberry Pi OS Lite trixie image, or say what to write with --init-format none"
fi

for fs in proc sys dev dev/pts; do mkdir -p "${root}/${fs}"; done
mount_at -t proc proc "${root}/proc"
mount_at -t sysfs sysfs "${root}/sys"
mount_at --bind /dev "${root}/dev"
mount_at --bind /dev/pts "${root}/dev/pts"
# Name resolution for apt, for the chroot's lifetime only.
resolv_backup=""
if [[ -e "${root}/etc/resolv.conf" || -L "${root}/etc/resolv.conf" ]]; then
  resolv_backup="${work}/resolv.conf.orig"
  cp -a "${root}/etc/resolv.conf" "${resolv_backup}"
  rm -f "${root}/etc/resolv.conf"
fi
cp /etc/resolv.conf "${root}/etc/resolv.conf"
# No service may start inside the chroot.
printf '#!/bin/sh\nexit 101\n' > "${root}/usr/sbin/policy-rc.d"
chmod 0755 "${root}/usr/sbin/policy-rc.d"
cp "${deb}" "${root}/tmp/simhive.deb"
packages=(/tmp/simhive.deb)
[[ "${mosquitto}" == 1 ]] && packages+=(mosquitto)
[[ "${firewall}" == 1 ]] && packages+=(nftables)
# apt-get update exits 0 when a mirror cannot be reached (then every package
# is "Unable to locate"); Error-Mode=any (apt >= 2.9, trixie has 3.0) makes
# that an error, and the log is read too in case the option is unknown.
update_rc=0
chroot "${root}" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 \
  apt-get -q -o APT::Update::Error-Mode=any update > "${work}/apt.log" 2>&1 || update_rc=$?
if [[ "${update_rc}" != 0 ]] || grep -qE '^(Err:|W: Failed to fetch|W: Some index files failed|E: Failed to fetch)' "${work}/apt.log"; then
  grep -E '^(Err|W|E):' "${work}/apt.log" | head -10 >&2 || tail -10 "${work}/apt.log" >&2
  die "apt-get update failed inside the image: the package mirror could not be reached (network, proxy or DNS on this machine? the image's /etc/apt/sources*)"
fi
info "apt-get install ${packages[*]} (under qemu-user: a few minutes)"
chroot "${root}" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 \
  apt-get -q -y --no-install-recommends install "${packages[@]}" >> "${work}/apt.log" 2>&1 ||
  { tail -30 "${work}/apt.log" >&2; die "apt-get install failed inside the image"; }
chroot "${root}" apt-get clean
rm -f "${root}/tmp/simhive.deb" "${root}/usr/sbin/policy-rc.d" "${root}/etc/resolv.conf"
if [[ -n "${resolv_backup}" ]]; then cp -a "${resolv_backup}" "${root}/etc/resolv.conf"; fi
[[ -L "${root}/etc/systemd/system/multi-user.target.wants/simhive.service" ]] || die "simhive.service was not enabled by the package"

# --- 4. journald in RAM, firewall -----------------------------------------------------------
step "journald in RAM$([[ "${firewall}" == 1 ]] && echo ", firewall (SSH, port ${port} and mDNS only)")"
install -d "${root}/etc/systemd/journald.conf.d"
cat > "${root}/etc/systemd/journald.conf.d/50-simhive-volatile.conf" <<'EOF'
# simhive image: logs live in RAM (/run/log/journal) to spare the SD card;
# they do not survive a reboot. Ship them elsewhere if you need history.
[Journal]
Storage=volatile
RuntimeMaxUse=64M
EOF
if [[ "${firewall}" == 1 ]]; then
  cat > "${root}/etc/nftables.conf" <<EOF
#!/usr/sbin/nft -f
# simhive image: only SSH, the partner API port (${port}) and mDNS queries
# (so that <hostname>.local resolves on the LAN) are open.
# Behind a reverse proxy (caddy) open 80/443 instead of ${port}.
flush ruleset
table inet filter {
  chain input {
    type filter hook input priority filter; policy drop;
    iif lo accept
    ct state established,related accept
    ct state invalid drop
    meta l4proto { icmp, ipv6-icmp } accept
    udp dport 68 accept comment "DHCP client"
    udp dport 546 accept comment "DHCPv6 client"
    udp dport 5353 ip daddr 224.0.0.251 accept comment "mDNS: simhive.local (avahi)"
    udp dport 5353 ip6 daddr ff02::fb accept comment "mDNS: simhive.local (avahi)"
    tcp dport 22 accept comment "SSH"
    tcp dport ${port} accept comment "simhive partner API"
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
  }
  chain output {
    type filter hook output priority filter; policy accept;
  }
}
EOF
  chroot "${root}" systemctl enable nftables.service >/dev/null 2>&1 || die "cannot enable nftables.service"
fi

# --- 5. the boot partition (FAT, through mtools) ----------------------------------------------
step "boot partition: $([[ -n "${config}" ]] && echo simhive.yaml || echo simhive.yaml.example)"
sync
umount "${root}/dev/pts" "${root}/dev" "${root}/sys" "${root}/proc"
umount "${root}"
mounted=()
losetup -d "${loopdev}"
loopdev=""
fat="${img}@@${boot_start}"
if [[ -n "${config}" ]]; then
  mcopy -o -i "${fat}" "${config}" ::simhive.yaml
else
  mcopy -o -i "${fat}" "${repo}/packaging/config.yaml" ::simhive.yaml.example
fi
mdir -i "${fat}" ::simhive.yaml* >/dev/null || die "writing to the boot partition failed"

# --- 6. compress, OS list -----------------------------------------------------------------------
name="simhive-${deb_version}"
step "compressing ${out}/${name}.img.xz (xz -T0 -${xz_level})"
extract_size="$(stat -c %s "${img}")"
extract_sha256="$(sha256sum "${img}" | cut -d' ' -f1)"
xz -T0 "-${xz_level}" -v -c "${img}" > "${out}/${name}.img.xz.part"
mv "${out}/${name}.img.xz.part" "${out}/${name}.img.xz"
download_size="$(stat -c %s "${out}/${name}.img.xz")"
download_sha256="$(sha256sum "${out}/${name}.img.xz" | cut -d' ' -f1)"
install -m 0644 "${repo}/provisioning/simhive-icon.png" "${out}/simhive-icon.png"
if [[ -z "${base_url}" ]]; then
  base_url="$(file_url "$(cd "${out}" && pwd)")"
  where="a local manifest: Imager -> App Options -> Content Repository -> Use custom file; to serve the image, give --base-url"
else
  base_url="${base_url%/}"
  where="copy ${name}.img.xz and simhive-icon.png to ${base_url}/, then rpi-imager --repo ${base_url}/${name}.json"
fi
cat > "${out}/${name}.json" <<EOF
{
  "os_list": [
    {
      "name": "simhive ${deb_version} (Raspberry Pi OS Lite trixie, 64-bit)",
      "description": "SMS hub for USB GSM modems. Put your simhive.yaml on the boot partition.",
      "icon": "${base_url}/simhive-icon.png",
      "url": "${base_url}/${name}.img.xz",
      "extract_size": ${extract_size},
      "extract_sha256": "${extract_sha256}",
      "image_download_size": ${download_size},
      "image_download_sha256": "${download_sha256}",
      "release_date": "$(date -u +%Y-%m-%d)",
      "init_format": "${init_format}",
      "devices": ["pi5-64bit", "pi4-64bit", "pi3-64bit"]
    }
  ]
}
EOF
info "image: ${out}/${name}.img.xz ($((download_size / 1048576)) MB)"
info "Imager OS list: ${out}/${name}.json, init_format ${init_format}, URLs under ${base_url}"
info "(${where})"
echo "build-image.sh: done in $((SECONDS - started)) s"
