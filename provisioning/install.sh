#!/bin/bash
# install.sh: the one install step shared by every route to a running hub:
# the Debian package (build-deb.sh lays out its tree with --files-only, its
# postinst runs --activate-only), the Raspberry Pi image builder (through the
# package) and the appliance test (both phases into a root file system).
#
#   install.sh [--root DIR] [--app-dir DIR]
#              [--files-only | --activate-only] [--no-enable]
#
# Phase "files": the launcher (/usr/bin/simhive), the units, udev rules,
# sysusers.d, tmpfiles.d, modules-load.d, the polkit rule, helper scripts,
# the default config (as /usr/lib/simhive/default-config.yaml, and as
# /etc/simhive/config.yaml only when none is there: an operator's config is
# never overwritten) and, with --app-dir, the compiled app (build/app from
# packaging/build-deb.sh). Everything goes below /usr: the units name
# /usr/bin/simhive and /usr/lib/simhive/, and systemd, udev, sysusers,
# tmpfiles and modules-load read /usr/lib only.
# Phase "activate": the simhive user (systemd-sysusers), its directories
# (systemd-tmpfiles), enablement (systemctl --root when DIR is not /), and on
# a running system a daemon-reload, udev reload and module loading.
#
# Idempotent, needs no network, and writes only below DIR.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly here
root=/
app_dir=""
do_files=1
do_activate=1
do_enable=1

die() { echo "install.sh: error: $*" >&2; exit 1; }
step() { echo "install.sh: $*"; }

usage() {
  sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --root) root="${2:?--root needs a directory}"; shift 2 ;;
    --root=*) root="${1#--root=}"; shift ;;
    --prefix|--prefix=*) die "--prefix is gone: the units name /usr/bin/simhive and /usr/lib/simhive, so the hub installs below /usr only" ;;
    --app-dir) app_dir="${2:?--app-dir needs a directory}"; shift 2 ;;
    --app-dir=*) app_dir="${1#--app-dir=}"; shift ;;
    --files-only) do_activate=0; shift ;;
    --activate-only) do_files=0; shift ;;
    --no-enable) do_enable=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
done

[[ -d "${root}" ]] || die "--root '${root}' is not a directory"
root="$(cd "${root}" && pwd)"
# dest PATH: PATH below the root.
dest() { if [[ "${root}" == / ]]; then printf '%s' "$1"; else printf '%s%s' "${root}" "$1"; fi; }

readonly libdir=/usr/lib/simhive
readonly unitdir=/usr/lib/systemd/system

# put MODE SOURCE TARGET: copy one file when it differs (keeps mtimes and
# makes a second run a no-op).
put() {
  local mode="$1" src="$2" target
  target="$(dest "$3")"
  [[ -f "${src}" ]] || die "missing source file ${src}"
  install -d -m 0755 "$(dirname "${target}")"
  if [[ -f "${target}" ]] && cmp -s "${src}" "${target}"; then
    chmod "${mode}" "${target}"
    return
  fi
  install -m "${mode}" "${src}" "${target}"
}

install_files() {
  local systemd_src="${here}/../systemd"
  [[ -f "${systemd_src}/simhive.service" ]] ||
    die "${systemd_src}/simhive.service not found: install files from a simhive checkout (the packaged copy only does --activate-only)"
  step "files into ${root}"

  put 0644 "${systemd_src}/simhive.service" "${unitdir}/simhive.service"
  put 0644 "${systemd_src}/simhive-uhubctl@.service" "${unitdir}/simhive-uhubctl@.service"
  put 0644 "${systemd_src}/simhive-import-config.service" "${unitdir}/simhive-import-config.service"
  put 0644 "${systemd_src}/sysusers.d/simhive.conf" /usr/lib/sysusers.d/simhive.conf
  put 0644 "${systemd_src}/tmpfiles.d/simhive.conf" /usr/lib/tmpfiles.d/simhive.conf
  put 0644 "${systemd_src}/modules-load.d/simhive.conf" /usr/lib/modules-load.d/simhive.conf
  put 0644 "${systemd_src}/udev/70-simhive-modems.rules" /usr/lib/udev/rules.d/70-simhive-modems.rules
  put 0644 "${systemd_src}/polkit/50-simhive-uhubctl.rules" /usr/share/polkit-1/rules.d/50-simhive-uhubctl.rules
  put 0755 "${systemd_src}/libexec/uhubctl-cycle" "${libdir}/uhubctl-cycle"
  put 0755 "${systemd_src}/libexec/import-config" "${libdir}/import-config"
  put 0755 "${here}/install.sh" "${libdir}/install.sh"
  put 0755 "${here}/simhive-launcher.sh" /usr/bin/simhive
  put 0644 "${here}/../packaging/config.yaml" "${libdir}/default-config.yaml"

  # The default config: written once, never over an operator's file.
  local config
  config="$(dest /etc/simhive/config.yaml)"
  install -d -m 0750 "$(dirname "${config}")"
  if [[ ! -e "${config}" ]]; then
    install -m 0640 "${here}/../packaging/config.yaml" "${config}"
  fi

  if [[ -n "${app_dir}" ]]; then
    [[ -f "${app_dir}/core/main.js" ]] || die "--app-dir ${app_dir} has no core/main.js (build it: packaging/build-deb.sh --app-only)"
    [[ -d "${app_dir}/node_modules" ]] || die "--app-dir ${app_dir} has no node_modules"
    step "app from ${app_dir}"
    install -d -m 0755 "$(dest "${libdir}/app")"
    # Mirror the app: the copy is exact, stale files from an older build go.
    cp -a --no-preserve=ownership "${app_dir}/." "$(dest "${libdir}/app")/"
    (cd "${app_dir}" && find . -mindepth 1 -printf '%P\n' | sort) > "$(dest "${libdir}")/.app-files.new"
    (cd "$(dest "${libdir}/app")" && find . -mindepth 1 -printf '%P\n' | sort) |
      comm -23 - "$(dest "${libdir}")/.app-files.new" | tac |
      while IFS= read -r stale; do rm -rf "$(dest "${libdir}/app")/${stale:?}"; done
    rm -f "$(dest "${libdir}")/.app-files.new"
  fi
}

# live: true when DIR is the running system with systemd as init.
live() { [[ "${root}" == / && -d /run/systemd/system ]]; }

activate() {
  local -a rootarg=()
  if [[ "${root}" != / ]]; then
    rootarg=(--root "${root}")
  fi
  # A chroot without /proc (dpkg run by an image builder): systemd-tmpfiles
  # refuses to work there, so its "d" lines are applied by hand.
  local no_proc=0
  [[ "${root}" == / && ! -e /proc/self ]] && no_proc=1
  command -v systemd-sysusers >/dev/null || die "systemd-sysusers not found (package systemd)"
  command -v systemd-tmpfiles >/dev/null || die "systemd-tmpfiles not found (package systemd)"

  step "user simhive (systemd-sysusers)"
  # A bare name: looked up in sysusers.d below the root.
  systemd-sysusers "${rootarg[@]}" simhive.conf
  step "directories (systemd-tmpfiles)"
  if [[ "${no_proc}" == 1 ]]; then
    local type path mode user group _
    while read -r type path mode user group _; do
      [[ "${type}" == d ]] && install -d -m "${mode}" -o "${user}" -g "${group}" "${path}"
    done < /usr/lib/tmpfiles.d/simhive.conf
  else
    systemd-tmpfiles "${rootarg[@]}" --create simhive.conf
  fi
  if [[ -f "$(dest /etc/simhive/config.yaml)" ]]; then
    # root:simhive 0640: the hub reads it, only root writes it.
    if [[ "${root}" == / ]]; then
      chown root:simhive /etc/simhive/config.yaml
    else
      local gid
      gid="$(awk -F: '$1 == "simhive" { print $3 }' "${root}/etc/group")"
      [[ -n "${gid}" ]] || die "group simhive missing in ${root}/etc/group after systemd-sysusers"
      chown "0:${gid}" "$(dest /etc/simhive/config.yaml)"
    fi
    chmod 0640 "$(dest /etc/simhive/config.yaml)"
  fi

  if live; then
    step "reloading systemd and udev"
    systemctl daemon-reload
    udevadm control --reload || true
    systemctl restart systemd-modules-load.service || true
  fi
  if [[ "${do_enable}" == 1 ]]; then
    step "enabling simhive.service and simhive-import-config.service"
    # In a chroot or --root, systemctl only writes the symlinks.
    systemctl "${rootarg[@]}" enable simhive.service simhive-import-config.service
  fi
  if live; then
    udevadm trigger --subsystem-match=tty --action=change || true
  fi
}

[[ "${do_files}" == 1 ]] && install_files
[[ "${do_activate}" == 1 ]] && activate
step "done"
