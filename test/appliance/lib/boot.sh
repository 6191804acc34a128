# shellcheck shell=bash disable=SC2154 # cache, work, kdir ...: set by common.sh or the sourcing script
# boot.sh: qemu-system-aarch64 (TCG) on root.img and boot.fat, with
# qemu-xhci and two usb-serial (FTDI) devices whose chardevs are TCP sockets
# served by test/appliance/modem-server.ts. The guest's probe (guest/probe.sh)
# prints SIMHIVE-APPLIANCE: lines on the serial console; the host acts on its
# "ASK <action> ;" lines: hotplug (a third modem through QEMU's monitor),
# hang N / unhang N (modem N stops or resumes answering, through the modem
# server's stdin). Waits for the verdict (--timeout).
# Needs common.sh, kernel.sh (kdir) and: work, timeout_s; sets modem_pid,
# qemu_pid for the caller's cleanup.

modem_pid=""
qemu_pid=""
control_fd=""

free_port() { node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'; }

# host_action ACTION: what the probe asked for.
host_action() {
  local action="$1"
  log "guest asks: ${action}"
  case "${action}" in
    hotplug)
      # shellcheck disable=SC2016 # JavaScript, not shell
      node -e '
        const s = require("net").connect(process.argv[1], () => {
          s.write(`chardev-add socket,id=modem2,host=127.0.0.1,port=${process.argv[2]}\n`);
          setTimeout(() => s.write("device_add usb-serial,bus=xhci.0,chardev=modem2,id=hotplug\n"), 500);
          setTimeout(() => s.end(), 1500);
        });
        s.on("error", (e) => { console.error("monitor: " + e.message); process.exit(1); });
      ' "${work}/monitor.sock" "${modem_ports[2]}" > "${work}/monitor.log" 2>&1 ||
        log "hot-plug through the QEMU monitor failed: $(cat "${work}/monitor.log")" ;;
    "hang "[0-9]|"unhang "[0-9]) echo "${action}" >&"${control_fd}" ;;
    *) log "unknown request from the guest: ${action}" ;;
  esac
}

boot() {
  local console="${work}/console.log" start verdict="" handled=0 i
  local -a asks=()
  modem_ports=("$(free_port)" "$(free_port)" "$(free_port)")
  [[ "$(printf '%s\n' "${modem_ports[@]}" | sort -u | wc -l)" == 3 ]] || die "could not find three free ports"
  mkfifo "${work}/modems.ctl"
  (cd "${appliance_repo}" && exec node --import tsx test/appliance/modem-server.ts "${modem_ports[@]}") \
    < "${work}/modems.ctl" > "${work}/modems.log" 2>&1 &
  modem_pid=$!
  exec {control_fd}>"${work}/modems.ctl"
  for _ in $(seq 1 100); do grep -q listening "${work}/modems.log" 2>/dev/null && break; sleep 0.1; done
  grep -q listening "${work}/modems.log" || { cat "${work}/modems.log" >&2; die "modem-server did not start"; }

  : > "${console}"
  qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m 1536 -accel tcg,thread=multi \
    -kernel "${kdir}/vmlinuz" -initrd "${kdir}/initrd.img" \
    -append "console=ttyAMA0 root=/dev/vda rw systemd.firstboot=off systemd.show_status=1 quiet" \
    -drive if=none,file="${work}/root.img",format=raw,id=root -device virtio-blk-pci,drive=root \
    -drive if=none,file="${work}/boot.fat",format=raw,id=boot -device virtio-blk-pci,drive=boot \
    -device qemu-xhci,id=xhci \
    -chardev socket,id=modem0,host=127.0.0.1,port="${modem_ports[0]}" -device usb-serial,bus=xhci.0,chardev=modem0 \
    -chardev socket,id=modem1,host=127.0.0.1,port="${modem_ports[1]}" -device usb-serial,bus=xhci.0,chardev=modem1 \
    -nic none -display none -monitor unix:"${work}/monitor.sock",server=on,wait=off -serial file:"${console}" -no-reboot \
    > "${work}/qemu.log" 2>&1 &
  qemu_pid=$!
  start="${SECONDS}"
  while kill -0 "${qemu_pid}" 2>/dev/null; do
    mapfile -t asks < <(grep -ao 'SIMHIVE-APPLIANCE: ASK [a-z0-9 ]* ;' "${console}" | sed -e 's/^SIMHIVE-APPLIANCE: ASK //' -e 's/ ;$//')
    for ((i = handled; i < ${#asks[@]}; i++)); do host_action "${asks[$i]}"; done
    handled="${#asks[@]}"
    if grep -q 'SIMHIVE-APPLIANCE: VERDICT' "${console}"; then
      verdict="$(grep -a -m1 'SIMHIVE-APPLIANCE: VERDICT' "${console}" | tr -d '\r')"
      break
    fi
    (( SECONDS - start > timeout_s )) && break
    sleep 1
  done
  log "guest: verdict $((SECONDS - start)) s after qemu start"
  # Give the guest a moment to power off, then stop qemu regardless.
  for _ in $(seq 1 30); do kill -0 "${qemu_pid}" 2>/dev/null || break; sleep 1; done
  stop_guest

  grep -a 'SIMHIVE-APPLIANCE' "${console}" | tr -d '\r' | sed 's/^.*SIMHIVE-APPLIANCE/  SIMHIVE-APPLIANCE/' || true
  cp "${console}" "${cache}/last-console.log"
  if [[ -z "${verdict}" ]]; then
    tail -40 "${console}" >&2
    cat "${work}/qemu.log" >&2
    die "no verdict within ${timeout_s} s (console: ${cache}/last-console.log)"
  fi
  [[ "${verdict}" == *"VERDICT PASS"* ]] || die "appliance check failed (console: ${cache}/last-console.log)"
  # What the guest wrote to the FAT partition, seen from outside.
  mdir -i "${work}/boot.fat" ::simhive.imported.txt >/dev/null 2>&1 || die "boot.fat has no simhive.imported.txt after the boot"
  if mdir -i "${work}/boot.fat" ::simhive.yaml >/dev/null 2>&1; then die "simhive.yaml is still on boot.fat after the boot"; fi
  log "boot.fat: simhive.yaml imported and removed, simhive.imported.txt written"
}

# stop_guest: qemu and the modem server, whatever state they are in.
stop_guest() {
  if [[ -n "${qemu_pid}" ]]; then kill "${qemu_pid}" 2>/dev/null || true; wait "${qemu_pid}" 2>/dev/null || true; qemu_pid=""; fi
  if [[ -n "${control_fd}" ]]; then exec {control_fd}>&-; control_fd=""; fi
  if [[ -n "${modem_pid}" ]]; then kill "${modem_pid}" 2>/dev/null || true; wait "${modem_pid}" 2>/dev/null || true; modem_pid=""; fi
}
