# shellcheck shell=bash disable=SC2154 # cache, work, kdir ...: set by common.sh or the sourcing script
# base.sh: the cached Debian trixie arm64 root file systems.
#   ${cache}/rootfs      debootstrap minbase + systemd, udev, kmod, nodejs, and
#                        dbus, libpam-systemd (logind) + polkitd (the uhubctl route: the hub asks
#                        systemd over D-Bus, polkit decides); what the boot
#                        test, the package test and the image test start from
#   ${cache}/tools-root  trixie for this machine's architecture (no qemu-user:
#                        python's byte-compiling under emulation takes over ten
#                        minutes) with cloud-init and python3-netplan, for
#                        `cloud-init schema` of the examples (trixie's 25.1);
#                        kept apart from the arm64 root so the booted system
#                        stays minimal (cloud-init pulls procps, which would
#                        hide a unit needing /usr/bin/kill)
# Both rebuilt when missing, when their package list changes, or with rebuild=1.
# Needs common.sh.

readonly base_packages="systemd-sysv,udev,kmod,nodejs,dbus,libpam-systemd,polkitd"
readonly tools_packages="cloud-init,python3-netplan"
readonly base_stamp="suite=${suite} packages=${base_packages}"
tools_stamp="suite=${suite} arch=$(dpkg --print-architecture) packages=${tools_packages}"
readonly tools_stamp
rebuild="${rebuild:-0}"

cached() { [[ "${rebuild}" == 0 && -f "$1/.complete" && "$(cat "$1/.complete")" == "$2" ]]; }

build_base() {
  local root="${cache}/rootfs"
  if cached "${root}" "${base_stamp}"; then
    log "base root file system cached in ${root}"
    return
  fi
  ensure_binfmt
  remove_tree "${root}"
  mkdir -p "${cache}"
  local avail_kb
  avail_kb="$(df -Pk "${cache}" | awk 'NR==2 {print $4}')"
  [[ "${avail_kb}" -gt 3000000 ]] || die "less than 3 GB free in ${cache}"
  log "debootstrap ${suite} arm64 from $(mirror) (minutes: every package's scripts run under qemu-user)"
  if ! debootstrap --arch=arm64 --variant=minbase --include="${base_packages}" \
    "${suite}" "${root}" "$(mirror)" > "${cache}/debootstrap.log" 2>&1; then
    tail -20 "${cache}/debootstrap.log" >&2
    unmount_below "${root}"
    die "debootstrap failed (log: ${cache}/debootstrap.log)"
  fi
  rm -rf "${root}/var/cache/apt/archives/"*.deb "${root}/var/lib/apt/lists/"*_Packages
  echo "${base_stamp}" > "${root}/.complete"
}

build_tools_root() {
  local root="${cache}/tools-root"
  if cached "${root}" "${tools_stamp}"; then
    log "tools root file system (cloud-init) cached in ${root}"
    return
  fi
  remove_tree "${root}"
  mkdir -p "${cache}"
  log "debootstrap ${suite} $(dpkg --print-architecture) with ${tools_packages} from $(mirror)"
  if ! debootstrap --variant=minbase --include="${tools_packages}" "${suite}" "${root}" "$(mirror)" \
    > "${cache}/tools-root.log" 2>&1; then
    tail -20 "${cache}/tools-root.log" >&2
    unmount_below "${root}"
    die "debootstrap of the tools root failed (log: ${cache}/tools-root.log)"
  fi
  rm -rf "${root}/var/cache/apt/archives/"*.deb "${root}/var/lib/apt/lists/"*_Packages
  echo "${tools_stamp}" > "${root}/.complete"
}
