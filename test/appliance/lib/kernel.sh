# shellcheck shell=bash disable=SC2154 # cache, work, kdir ...: set by common.sh or the sourcing script
# kernel.sh: Debian's arm64 kernel and a small busybox initrd for the boot
# test, cached per kernel version in ${cache}/kernel/<version>: host apt on a
# private arm64 index (${cache}/apt) resolves linux-image-arm64 and
# `apt-get download`s it and busybox-static; `dpkg-deb -x`, host depmod; the
# initrd (guest/initrd-init.sh as /init) loads virtio_blk and ext4 with their
# dependencies and switch_roots to systemd. No linux-image install in a chroot
# (initramfs-tools under qemu-user takes ~19 minutes).
# Sets kver and kdir. Needs common.sh.

kver=""
kdir=""

# modules_closure MODDIR NAME...: module files (relative to MODDIR) in load order.
modules_closure() {
  local moddir="$1"; shift
  declare -A seen=()
  local -a order=()
  visit() {
    local name="$1" path deps dep
    path="$(awk -F: -v n="/${name}.ko" '{ p = "/" $1; sub(/\.(xz|zst|gz)$/, "", p); if (substr(p, length(p) - length(n) + 1) == n) { print $1; exit } }' "${moddir}/modules.dep")"
    [[ -n "${path}" ]] || return 0   # built in
    [[ -n "${seen[${path}]:-}" ]] && return 0
    seen["${path}"]=1
    deps="$(awk -F': ' -v p="${path}" '$1 == p { print $2 }' "${moddir}/modules.dep")"
    for dep in ${deps}; do
      visit "$(basename "${dep}" | sed -E 's/\.ko(\.(xz|zst|gz))?$//')"
    done
    order+=("${path}")
  }
  local name
  for name in "$@"; do visit "${name}"; done
  printf '%s\n' "${order[@]}"
}

build_kernel() {
  mkdir -p "${cache}/apt/state/lists/partial" "${cache}/apt/cache/archives/partial" "${cache}/debs"
  touch "${cache}/apt/status"
  echo "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(mirror) ${suite} main" \
    > "${cache}/apt/sources.list"
  # A fresh index only when the cached one is older than a day.
  if [[ -z "$(find "${cache}/apt/state/lists" -maxdepth 1 -name '*_Packages*' -mtime -1 2>/dev/null)" ]]; then
    apt_arm64 apt-get update > "${cache}/apt/update.log" 2>&1 || { cat "${cache}/apt/update.log" >&2; die "apt-get update (arm64 index) failed"; }
  fi
  local kpkg
  local depends
  depends="$(apt_arm64 apt-cache depends linux-image-arm64 2>/dev/null || true)"
  kpkg="$(awk '/Depends: linux-image-[0-9]/ {print $2; exit}' <<<"${depends}")"
  [[ -n "${kpkg}" ]] || die "cannot resolve linux-image-arm64 in the ${suite} arm64 index"
  kver="${kpkg#linux-image-}"
  kdir="${cache}/kernel/${kver}"
  if [[ -f "${kdir}/.complete" ]]; then
    log "kernel ${kver} and initrd cached in ${kdir}"
    return
  fi
  rm -rf "${kdir}"
  mkdir -p "${kdir}"
  (cd "${cache}/debs" && rm -f ./*.deb && apt_arm64 apt-get download "${kpkg}" busybox-static > "${cache}/apt/download.log" 2>&1) ||
    { cat "${cache}/apt/download.log" >&2; die "apt-get download ${kpkg} busybox-static failed"; }
  dpkg-deb -x "${cache}/debs/${kpkg}_"*.deb "${kdir}/pkg"
  dpkg-deb -x "${cache}/debs/busybox-static_"*.deb "${kdir}/busybox"
  cp "${kdir}/pkg/boot/vmlinuz-${kver}" "${kdir}/vmlinuz"
  # The host's depmod looks in /lib/modules; trixie's kernel ships /usr/lib/modules.
  if [[ ! -e "${kdir}/pkg/lib/modules" ]]; then
    mkdir -p "${kdir}/pkg/lib"
    ln -s ../usr/lib/modules "${kdir}/pkg/lib/modules"
  fi
  depmod -b "${kdir}/pkg" "${kver}"

  local initrd="${kdir}/initrd-root" moddir="${kdir}/pkg/usr/lib/modules/${kver}" m
  [[ -d "${moddir}" ]] || moddir="${kdir}/pkg/lib/modules/${kver}"
  mkdir -p "${initrd}"/{bin,dev,proc,sys,newroot,modules}
  cp "${kdir}/busybox/usr/bin/busybox" "${initrd}/bin/busybox" 2>/dev/null || cp "${kdir}/busybox/bin/busybox" "${initrd}/bin/busybox"
  : > "${initrd}/modules/order"
  while IFS= read -r m; do
    local out_name
    out_name="$(basename "${m}" | sed -E 's/\.(xz|zst|gz)$//')"
    case "${m}" in
      *.xz) xz -dc "${moddir}/${m}" > "${initrd}/modules/${out_name}" ;;
      *.zst) zstd -qdc "${moddir}/${m}" > "${initrd}/modules/${out_name}" ;;
      *.gz) gzip -dc "${moddir}/${m}" > "${initrd}/modules/${out_name}" ;;
      *) cp "${moddir}/${m}" "${initrd}/modules/${out_name}" ;;
    esac
    echo "${out_name}" >> "${initrd}/modules/order"
  done < <(modules_closure "${moddir}" virtio_blk crc32c_generic ext4)  # ext4 softdep: crc32c
  install -m 0755 "${appliance_repo}/test/appliance/guest/initrd-init.sh" "${initrd}/init"
  (cd "${initrd}" && find . | cpio -o -H newc --quiet | gzip -1) > "${kdir}/initrd.img"
  rm -rf "${initrd}" "${kdir}/busybox"
  # Keep the modules for the guest's root; drop the rest of the package.
  mv "${moddir}" "${kdir}/modules"
  rm -rf "${kdir}/pkg"
  touch "${kdir}/.complete"
}
