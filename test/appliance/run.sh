#!/bin/bash
# run.sh: the appliance test. Boots a Debian trixie arm64 system with simhive
# installed by provisioning/install.sh under qemu-system-aarch64, with two
# emulated modems on QEMU's USB bus, and checks that simhive.service reaches
# READY and /readyz answers 200.
#
#   test/appliance/run.sh [--cache DIR] [--rebuild] [--keep] [--timeout SEC]
#                         [--app-dir DIR] [--allow-type-errors]
#
# Stages (each one's time is printed, and a summary at the end):
#   base     debootstrap trixie arm64 (minbase + systemd, udev, nodejs) through
#            qemu-user into DIR/rootfs; cached, rebuilt when missing, when its
#            package list changed, or with --rebuild
#   kernel   Debian's arm64 kernel and busybox-static via `apt-get download`
#            (host apt, arm64 index in DIR/apt), a small busybox initrd that
#            loads virtio_blk and ext4; cached per kernel version
#   app      packaging/build-deb.sh --app-only --arch arm64 (tsc + npm ci)
#   install  copy of the cached root, provisioning/install.sh --root, a test
#            config dropped as /boot/firmware/simhive.yaml (exercises the
#            first-boot import) and a probe unit that reports on the console
#   image    mkfs.ext4 -d
#   boot     qemu-system-aarch64 (TCG): virtio disk, qemu-xhci with two
#            usb-serial (FTDI) devices wired to test/appliance/modem-server.ts;
#            the probe prints SIMHIVE-APPLIANCE lines and powers off
#
# Needs root (debootstrap, chroot, file ownership), and the Debian packages
# debootstrap qemu-user-static binfmt-support qemu-system-arm e2fsprogs cpio
# xz-utils; network: Debian's archive (first run, and `apt-get update` of the
# arm64 index) and the npm registry (npm ci). Default cache:
# /var/cache/simhive-appliance (SIMHIVE_APPLIANCE_CACHE).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly repo
cache="${SIMHIVE_APPLIANCE_CACHE:-/var/cache/simhive-appliance}"
readonly suite=trixie
readonly base_packages="systemd-sysv,udev,kmod,nodejs"
rebuild=0
keep=0
timeout_s=600
app_dir=""
allow_type_errors=0

die() { echo "run.sh: error: $*" >&2; exit 1; }
log() { printf 'run.sh: [%s] %s\n' "$(date +%T)" "$*"; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --cache) cache="${2:?--cache needs a directory}"; shift 2 ;;
    --rebuild) rebuild=1; shift ;;
    --keep) keep=1; shift ;;
    --timeout) timeout_s="${2:?--timeout needs seconds}"; shift 2 ;;
    --app-dir) app_dir="${2:?--app-dir needs a directory}"; shift 2 ;;
    --allow-type-errors) allow_type_errors=1; shift ;;
    -h|--help) sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
done

[[ "$(id -u)" == 0 ]] || die "needs root (debootstrap, chroot, image ownership)"
for tool in debootstrap qemu-system-aarch64 qemu-aarch64-static mkfs.ext4 cpio xz depmod apt-get dpkg-deb node; do
  command -v "${tool}" >/dev/null 2>&1 ||
    die "${tool} not found: apt-get install debootstrap qemu-user-static binfmt-support qemu-system-arm e2fsprogs cpio xz-utils kmod"
done

# --- timing -------------------------------------------------------------------------
declare -a stage_names=() stage_secs=()
stage_start=0
begin() { stage_start="${SECONDS}"; log "stage $1 ..."; }
end() {
  local secs=$((SECONDS - stage_start))
  stage_names+=("$1"); stage_secs+=("${secs}")
  log "stage $1: ${secs} s"
}
summary() {
  local i total=0
  echo "run.sh: stage times"
  for i in "${!stage_names[@]}"; do
    printf '  %-8s %4d s\n' "${stage_names[$i]}" "${stage_secs[$i]}"
    total=$((total + stage_secs[i]))
  done
  printf '  %-8s %4d s\n' total "${total}"
}

# --- cleanup --------------------------------------------------------------------------
work="$(mktemp -d /var/tmp/simhive-appliance.XXXXXX)"
modem_pid=""
qemu_pid=""
cleanup() {
  local rc=$?
  if [[ -n "${qemu_pid}" ]]; then kill "${qemu_pid}" 2>/dev/null || true; fi
  if [[ -n "${modem_pid}" ]]; then kill "${modem_pid}" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  # debootstrap leaves its mounts behind when it fails.
  for mnt in proc sys dev/pts dev; do
    if mountpoint -q "${cache}/rootfs/${mnt}" 2>/dev/null; then umount -l "${cache}/rootfs/${mnt}" || true; fi
  done
  if [[ "${keep}" == 1 ]]; then
    log "kept ${work}"
  else
    rm -rf "${work}"
  fi
  exit "${rc}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- qemu-user for the arm64 chroot --------------------------------------------------------
ensure_binfmt() {
  if [[ ! -e /proc/sys/fs/binfmt_misc/status ]]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || die "cannot mount binfmt_misc"
  fi
  if [[ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
    command -v update-binfmts >/dev/null || die "update-binfmts not found (apt-get install binfmt-support)"
    update-binfmts --enable qemu-aarch64 || die "cannot register qemu-aarch64 with binfmt_misc"
  fi
}

# The mirror this machine's apt uses (Debian's archive), for debootstrap and
# the arm64 index.
mirror() {
  if [[ -n "${SIMHIVE_DEBIAN_MIRROR:-}" ]]; then echo "${SIMHIVE_DEBIAN_MIRROR}"; return; fi
  local uri
  uri="$(grep -rhoE '^URIs:[[:space:]]*\S+/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | awk '{print $2}' || true)"
  [[ -n "${uri}" ]] || uri="$(grep -rhoE '^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?\S+/debian/?[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk '{print $NF}' | head -1 || true)"
  echo "${uri:-http://deb.debian.org/debian}"
}

# --- stage: base root file system (cached) ----------------------------------------------
base_stamp="suite=${suite} packages=${base_packages}"
build_base() {
  local root="${cache}/rootfs"
  if [[ "${rebuild}" == 0 && -f "${root}/.complete" && "$(cat "${root}/.complete")" == "${base_stamp}" ]]; then
    log "base root file system cached in ${root}"
    return
  fi
  ensure_binfmt
  rm -rf "${root}"
  mkdir -p "${cache}"
  local avail_kb
  avail_kb="$(df -Pk "${cache}" | awk 'NR==2 {print $4}')"
  [[ "${avail_kb}" -gt 3000000 ]] || die "less than 3 GB free in ${cache}"
  log "debootstrap ${suite} arm64 from $(mirror) (minutes: every package's scripts run under qemu-user)"
  if ! debootstrap --arch=arm64 --variant=minbase --include="${base_packages}" \
    "${suite}" "${root}" "$(mirror)" > "${cache}/debootstrap.log" 2>&1; then
    tail -20 "${cache}/debootstrap.log" >&2
    die "debootstrap failed (log: ${cache}/debootstrap.log)"
  fi
  rm -rf "${root}/var/cache/apt/archives/"*.deb "${root}/var/lib/apt/lists/"*_Packages
  echo "${base_stamp}" > "${root}/.complete"
}

# --- stage: kernel and initrd (cached) ----------------------------------------------------
# apt_arm64 apt-get|apt-cache ARGS: host apt on a private arm64 index.
apt_arm64() {
  local program="$1"; shift
  "${program}" -q -o Dir::State="${cache}/apt/state" -o Dir::State::status="${cache}/apt/status" \
    -o Dir::Cache="${cache}/apt/cache" -o Dir::Etc::SourceList="${cache}/apt/sources.list" \
    -o Dir::Etc::SourceParts=/nonexistent -o Dir::Etc::Preferences=/nonexistent \
    -o Dir::Etc::PreferencesParts=/nonexistent -o APT::Architecture=arm64 \
    -o APT::Architectures::=arm64 -o Debug::NoLocking=1 -o APT::Sandbox::User=root "$@"
}

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
  cat > "${initrd}/init" <<'EOF'
#!/bin/busybox sh
# Appliance test initrd: load the disk and file system drivers, mount
# /dev/vda, hand over to systemd.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r module; do insmod "/modules/${module}" || echo "initrd: insmod ${module} failed"; done < /modules/order
i=0
while [ ! -b /dev/vda ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
mount -t ext4 -o rw /dev/vda /newroot || { echo "initrd: cannot mount /dev/vda"; exec sh; }
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/init
EOF
  chmod 0755 "${initrd}/init"
  (cd "${initrd}" && find . | cpio -o -H newc --quiet | gzip -1) > "${kdir}/initrd.img"
  rm -rf "${initrd}" "${kdir}/busybox"
  # Keep the modules for the guest's root; drop the rest of the package.
  mv "${moddir}" "${kdir}/modules"
  rm -rf "${kdir}/pkg"
  touch "${kdir}/.complete"
}

# --- stage: install into a copy of the base --------------------------------------------------
write_probe() {
  local root="$1"
  install -d "${root}/usr/local/sbin"
  cat > "${root}/usr/local/sbin/simhive-appliance-probe" <<'EOF'
#!/bin/bash
# Appliance test probe: waits for simhive.service, checks it, prints
# SIMHIVE-APPLIANCE lines on the console and powers off.
set -uo pipefail
say() { echo "SIMHIVE-APPLIANCE: $*"; }
fail=()
up="$(cut -d' ' -f1 /proc/uptime)"
say "probe started at uptime ${up}s"

state=""
for _ in $(seq 1 240); do
  state="$(systemctl show -P ActiveState simhive.service)"
  [[ "${state}" == active || "${state}" == failed ]] && break
  sleep 1
done
say "simhive.service ActiveState=${state} SubState=$(systemctl show -P SubState simhive.service) NRestarts=$(systemctl show -P NRestarts simhive.service)"
if [[ "${state}" == active ]]; then
  start_us="$(systemctl show -P InactiveExitTimestampMonotonic simhive.service)"
  ready_us="$(systemctl show -P ActiveEnterTimestampMonotonic simhive.service)"
  say "READY after $(( (ready_us - start_us) / 1000 )) ms from exec (uptime $(awk '{print $1}' /proc/uptime)s)"
else
  fail+=("simhive.service not active (Type=notify: no READY=1)")
fi

code=""
for _ in $(seq 1 30); do
  code="$(node -e 'fetch("http://127.0.0.1:8080/readyz").then(async (r) => { console.log(r.status + " " + (await r.text())); }).catch((e) => { console.log("000 " + e.message); })')"
  [[ "${code}" == 200* ]] && break
  sleep 1
done
say "GET /readyz -> ${code}"
[[ "${code}" == 200* ]] || fail+=("/readyz did not answer 200")

links="$(find /dev/simhive -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)"
say "modem AT links: ${links} ($(ls /dev/simhive 2>/dev/null | tr '\n' ' '))"
[[ "${links}" -ge 2 ]] || fail+=("expected 2 links in /dev/simhive, found ${links}")
say "rescan trigger: $(cat /run/simhive/rescan 2>/dev/null || echo none)"

for _ in $(seq 1 60); do
  status="$(systemctl show -P StatusText simhive.service)"
  [[ "${status}" == 2/2\ modems\ ready* ]] && break
  sleep 1
done
say "StatusText: ${status:-}"

# Hot-plug: the host adds a third modem through QEMU's monitor once READY is
# printed; udev must link it and write the rescan trigger, the hub should
# pick it up.
for _ in $(seq 1 120); do
  [[ "$(find /dev/simhive -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)" -ge 3 ]] && break
  sleep 1
done
links="$(find /dev/simhive -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)"
say "after hot-plug: ${links} AT links"
[[ "${links}" -ge 3 ]] || fail+=("the hot-plugged modem got no /dev/simhive link")
# The hub deletes the trigger file as soon as it sees it, so ask udev (dry
# run) what it runs for each linked tty on "add".
for link in /dev/simhive/*; do
  tty="$(basename "$(readlink -f "${link}")")"
  if udevadm test --action=add "/sys/class/tty/${tty}" 2>&1 | grep -q '/run/simhive/rescan'; then
    say "udev runs the rescan trigger for ${tty} on add"
  else
    fail+=("udev has no rescan trigger for ${tty}")
  fi
done
for _ in $(seq 1 60); do
  status="$(systemctl show -P StatusText simhive.service)"
  [[ "${status}" == 3/3\ modems\ ready* ]] && break
  sleep 1
done
say "StatusText after hot-plug: ${status:-}"

pid="$(systemctl show -P MainPID simhive.service)"
if [[ "${pid}" != 0 && -r "/proc/${pid}/status" ]]; then
  say "hub uid/gids: $(awk '/^Uid:/ {print $2}' "/proc/${pid}/status") / $(awk '/^Groups:/ {$1=""; print}' "/proc/${pid}/status") (simhive=$(id -u simhive), dialout=$(getent group dialout | cut -d: -f3))"
fi
say "config: $(stat -c '%U:%G %a' /etc/simhive/config.yaml); boot partition: $(ls /boot/firmware | tr '\n' ' ')"
[[ "$(stat -c '%U:%G %a' /etc/simhive/config.yaml)" == "root:simhive 640" ]] || fail+=("config.yaml is not root:simhive 0640")
[[ -e /boot/firmware/simhive.yaml ]] && fail+=("simhive.yaml was not imported")
grep -q 'appliance-test' /etc/simhive/config.yaml || fail+=("config.yaml is not the imported one")

if [[ ${#fail[@]} -eq 0 ]]; then
  say "VERDICT PASS"
else
  journalctl -b --no-pager -n 60 -u simhive.service -u simhive-import-config.service | sed 's/^/SIMHIVE-APPLIANCE-LOG: /'
  say "VERDICT FAIL: ${fail[*]}"
fi
systemctl poweroff --no-block
EOF
  chmod 0755 "${root}/usr/local/sbin/simhive-appliance-probe"
  cat > "${root}/etc/systemd/system/simhive-appliance-probe.service" <<'EOF'
[Unit]
Description=simhive appliance test probe
After=simhive.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/simhive-appliance-probe
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
EOF
  ln -sf /etc/systemd/system/simhive-appliance-probe.service \
    "${root}/etc/systemd/system/multi-user.target.wants/simhive-appliance-probe.service"
}

prepare_root() {
  local root="${work}/rootfs"
  cp -a --reflink=auto "${cache}/rootfs" "${root}"
  rm -f "${root}/.complete"
  mkdir -p "${root}/usr/lib/modules"
  cp -a "${kdir}/modules" "${root}/usr/lib/modules/${kver}"
  "${repo}/provisioning/install.sh" --root "${root}" --app-dir "${app_dir}"
  # The operator's route: simhive.yaml on the boot partition, imported at boot.
  install -d "${root}/boot/firmware"
  cat > "${root}/boot/firmware/simhive.yaml" <<'EOF'
# appliance-test: dropped on the boot partition, imported at first boot
hub:
  id: appliance-test
http:
  host: 0.0.0.0
  port: 8080
modems:
  ports:
    - /dev/simhive/*
EOF
  write_probe "${root}"
  echo simhive-appliance > "${root}/etc/hostname"
  echo "/dev/vda / ext4 rw,errors=remount-ro 0 1" > "${root}/etc/fstab"
  # No login prompt on the test console.
  ln -sf /dev/null "${root}/etc/systemd/system/serial-getty@ttyAMA0.service"
  ln -sf /dev/null "${root}/etc/systemd/system/getty@tty1.service"
}

make_image() {
  local root="${work}/rootfs" size_mb
  size_mb="$(du -sm "${root}" | cut -f1)"
  size_mb=$((size_mb * 13 / 10 + 256))
  mkfs.ext4 -q -F -L simhive-root -d "${root}" "${work}/root.img" "${size_mb}M"
}

free_port() { node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'; }

boot() {
  local p0 p1 console="${work}/console.log" start verdict=""
  local p2 monitor="${work}/monitor.sock"
  p0="$(free_port)"; p1="$(free_port)"; p2="$(free_port)"
  [[ "${p0}" != "${p1}" && "${p1}" != "${p2}" && "${p0}" != "${p2}" ]] || die "could not find three free ports"
  (cd "${repo}" && exec node --import tsx test/appliance/modem-server.ts "${p0}" "${p1}" "${p2}") > "${work}/modems.log" 2>&1 &
  modem_pid=$!
  for _ in $(seq 1 100); do grep -q listening "${work}/modems.log" 2>/dev/null && break; sleep 0.1; done
  grep -q listening "${work}/modems.log" || { cat "${work}/modems.log" >&2; die "modem-server did not start"; }

  : > "${console}"
  qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m 1536 -accel tcg,thread=multi \
    -kernel "${kdir}/vmlinuz" -initrd "${kdir}/initrd.img" \
    -append "console=ttyAMA0 root=/dev/vda rw systemd.firstboot=off systemd.show_status=1 quiet" \
    -drive if=none,file="${work}/root.img",format=raw,id=root -device virtio-blk-pci,drive=root \
    -device qemu-xhci,id=xhci \
    -chardev socket,id=modem0,host=127.0.0.1,port="${p0}" -device usb-serial,bus=xhci.0,chardev=modem0 \
    -chardev socket,id=modem1,host=127.0.0.1,port="${p1}" -device usb-serial,bus=xhci.0,chardev=modem1 \
    -nic none -display none -monitor unix:"${monitor}",server=on,wait=off -serial file:"${console}" -no-reboot \
    > "${work}/qemu.log" 2>&1 &
  qemu_pid=$!
  start="${SECONDS}"
  local seen_ready=0
  while kill -0 "${qemu_pid}" 2>/dev/null; do
    if [[ "${seen_ready}" == 0 ]] && grep -q 'SIMHIVE-APPLIANCE: READY' "${console}"; then
      seen_ready=1; log "guest: simhive READY at $((SECONDS - start)) s after qemu start; hot-plugging a third modem"
      # shellcheck disable=SC2016 # JavaScript, not shell
      node -e '
        const s = require("net").connect(process.argv[1], () => {
          s.write(`chardev-add socket,id=modem2,host=127.0.0.1,port=${process.argv[2]}\n`);
          setTimeout(() => s.write("device_add usb-serial,bus=xhci.0,chardev=modem2,id=hotplug\n"), 500);
          setTimeout(() => s.end(), 1500);
        });
        s.on("error", (e) => { console.error("monitor: " + e.message); process.exit(1); });
      ' "${monitor}" "${p2}" > "${work}/monitor.log" 2>&1 || log "hot-plug through the QEMU monitor failed: $(cat "${work}/monitor.log")"
    fi
    if grep -q 'SIMHIVE-APPLIANCE: VERDICT' "${console}"; then
      verdict="$(grep -a -m1 'SIMHIVE-APPLIANCE: VERDICT' "${console}" | tr -d '\r')"
      break
    fi
    if (( SECONDS - start > timeout_s )); then
      break
    fi
    sleep 1
  done
  # Give the guest a moment to power off, then stop qemu regardless.
  for _ in $(seq 1 30); do kill -0 "${qemu_pid}" 2>/dev/null || break; sleep 1; done
  kill "${qemu_pid}" 2>/dev/null || true
  wait "${qemu_pid}" 2>/dev/null || true
  qemu_pid=""
  kill "${modem_pid}" 2>/dev/null || true
  wait "${modem_pid}" 2>/dev/null || true
  modem_pid=""

  grep -a 'SIMHIVE-APPLIANCE' "${console}" | tr -d '\r' | sed 's/^.*SIMHIVE-APPLIANCE/  SIMHIVE-APPLIANCE/' || true
  cp "${console}" "${cache}/last-console.log"
  if [[ -z "${verdict}" ]]; then
    tail -40 "${console}" >&2
    cat "${work}/qemu.log" >&2
    die "no verdict within ${timeout_s} s (console: ${cache}/last-console.log)"
  fi
  [[ "${verdict}" == *"VERDICT PASS"* ]] || die "appliance check failed (console: ${cache}/last-console.log)"
}

# --- main ------------------------------------------------------------------------------------------
kver=""
kdir=""
begin base; build_base; end base
begin kernel; build_kernel; end kernel
if [[ -z "${app_dir}" ]]; then
  begin app
  build_args=(--app-only --arch arm64)
  [[ "${allow_type_errors}" == 1 ]] && build_args+=(--allow-type-errors)
  "${repo}/packaging/build-deb.sh" "${build_args[@]}"
  app_dir="${repo}/build/app"
  end app
fi
begin install; prepare_root; end install
begin image; make_image; end image
begin boot; boot; end boot
summary
echo "run.sh: PASS"
