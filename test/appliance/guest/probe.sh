#!/bin/bash
# probe.sh: the appliance test's checks inside the booted guest, run by
# simhive-appliance-probe.service (After=simhive.service) as
# /usr/local/sbin/simhive-appliance-probe. Prints SIMHIVE-APPLIANCE: lines on
# the console; "ASK ..." lines are requests to the host (lib/boot.sh: hot-plug
# a modem, hang or unhang one); the last line is the verdict, then it powers
# off. Every wait is a hang guard on a condition, never a timed assertion.
set -uo pipefail

say() { echo "SIMHIVE-APPLIANCE: $*"; }
ask() { say "ASK $* ;"; }
fail=()
check() {
  local what="$1"; shift
  if "$@"; then say "ok: ${what}"; else say "FAILED: ${what}"; fail+=("${what}"); fi
}
# wait_for SECONDS COMMAND...: until COMMAND succeeds, at most SECONDS.
wait_for() {
  local secs="$1" i; shift
  for ((i = 0; i < secs; i++)); do "$@" && return 0; sleep 1; done
  "$@"
}
prop() { systemctl show -P "$1" "${2:-simhive.service}"; }
links() { find /dev/simhive -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
links_at_least() { [[ "$(links)" -ge "$1" ]]; }
status_is() { [[ "$(prop StatusText)" == "$1"* ]]; }
settled() { local s; s="$(prop ActiveState)"; [[ "${s}" == active || "${s}" == failed ]]; }
readyz() { node -e 'fetch("http://127.0.0.1:8080/readyz").then(async (r) => console.log(r.status + " " + (await r.text()))).catch((e) => console.log("000 " + e.message))'; }
readyz_200() { [[ "$(readyz)" == 200* ]]; }
# Journal lines of simhive.service since the cursor in $1.
journal_since() { journalctl --no-pager -o cat --after-cursor="$1" -u simhive.service 2>/dev/null; }
cursor() { journalctl --no-pager -n 0 --show-cursor 2>/dev/null | sed -n 's/^-- cursor: //p'; }

say "probe started at uptime $(cut -d' ' -f1 /proc/uptime)s"

# --- the hub reaches READY, as the package installed it -----------------------------
wait_for 240 settled
say "simhive.service ActiveState=$(prop ActiveState) SubState=$(prop SubState) NRestarts=$(prop NRestarts)"
if [[ "$(prop ActiveState)" == active ]]; then
  say "READY after $(( ($(prop ActiveEnterTimestampMonotonic) - $(prop InactiveExitTimestampMonotonic)) / 1000 )) ms from exec (uptime $(cut -d' ' -f1 /proc/uptime)s)"
else
  fail+=("simhive.service not active (Type=notify: no READY=1)")
fi
# shellcheck disable=SC2016 # a dpkg-query format, not shell
installed() { [[ "$(dpkg-query -W -f='${Status}' simhive 2>/dev/null)" == "install ok installed" ]]; }
check "dpkg: simhive is 'install ok installed'" installed
wait_for 30 readyz_200
say "GET /readyz -> $(readyz)"
check "/readyz answers 200" readyz_200

# --- the two modems: udev links, ModemManager kept off, the hub has them ready -------
wait_for 60 links_at_least 2
say "modem AT links: $(links) ($(find /dev/simhive -mindepth 1 -maxdepth 1 -printf '%f ' 2>/dev/null))"
check "2 links in /dev/simhive" test "$(links)" -eq 2
at_port_ignored() {
  local link
  for link in /dev/simhive/*; do
    udevadm info -q property -n "${link}" | grep -qx 'ID_MM_DEVICE_IGNORE=1' || { say "no ID_MM_DEVICE_IGNORE=1 on ${link}"; return 1; }
  done
}
check "udev sets ID_MM_DEVICE_IGNORE=1 on every AT port" at_port_ignored
# READY does not wait for modems and /readyz does not look at them: only the
# status line tells that the hub opened the ttys (DeviceAllow=, dialout and
# modules-load.d: a regression there is EPERM on every open).
wait_for 120 status_is "2/2 modems ready"
say "StatusText: $(prop StatusText)"
check "StatusText says 2/2 modems ready" status_is "2/2 modems ready"

# --- hot-plug: udev links the new tty and triggers the re-scan; the hub takes it ------
ask hotplug
wait_for 120 links_at_least 3
say "after hot-plug: $(links) AT links"
check "the hot-plugged modem got a /dev/simhive link" links_at_least 3
say "rescan trigger: $(cat /run/simhive/rescan 2>/dev/null || echo none)"
# The hub may consume the trigger file as soon as it sees it, so ask udev (dry
# run) what it runs for each linked tty on "add".
rescan_rule() {
  local link tty
  for link in /dev/simhive/*; do
    tty="$(basename "$(readlink -f "${link}")")"
    udevadm test --action=add "/sys/class/tty/${tty}" 2>&1 | grep -q '/run/simhive/rescan' || { say "no rescan trigger for ${tty}"; return 1; }
  done
}
check "udev runs the rescan trigger for every AT port on add" rescan_rule
wait_for 120 status_is "3/3 modems ready"
say "StatusText after hot-plug: $(prop StatusText)"
check "StatusText says 3/3 modems ready after the hot-plug" status_is "3/3 modems ready"

# --- systemctl reload: SIGHUP through ExecReload=, with nothing beyond the package's Depends
pid_before="$(prop MainPID)"
mark="$(cursor)"
reload_out="$(systemctl reload simhive.service 2>&1)"; reload_rc=$?
say "systemctl reload simhive -> ${reload_rc} ${reload_out}"
reloaded() { journal_since "${mark}" | grep -q '"config reloaded"'; }
check "systemctl reload succeeds" test "${reload_rc}" -eq 0
wait_for 60 reloaded
check "the hub logged 'config reloaded' after systemctl reload" reloaded
check "reload kept the same process" test "$(prop MainPID)" == "${pid_before}"

# --- USB power cycle: the hub's recovery ladder, through systemctl, polkit and the
# root oneshot, to (a stand-in) uhubctl ------------------------------------------------
uhubctl_unit="simhive-uhubctl@1-1.service"
uhubctl_line() { journalctl --no-pager -o cat -u "${uhubctl_unit}" 2>/dev/null | grep -m1 '^fake-uhubctl:'; }
ask hang 1
wait_for 240 uhubctl_line
say "power cycle: $(uhubctl_line || echo 'uhubctl never ran')"
say "${uhubctl_unit}: Result=$(prop Result "${uhubctl_unit}") ExecMainStatus=$(prop ExecMainStatus "${uhubctl_unit}")"
check "the hub started ${uhubctl_unit} (systemctl as user simhive, allowed by polkit)" uhubctl_line
check "uhubctl got --location 1 --ports 1 --action cycle" sh -c "journalctl --no-pager -o cat -u '${uhubctl_unit}' | grep -q -- 'args=--location 1 --ports 1 --action cycle --delay 3'"
check "uhubctl could write the port's sysfs disable file (/sys writable in the unit)" sh -c "journalctl --no-pager -o cat -u '${uhubctl_unit}' | grep -q 'sysfs=written .* sysmount=rw'"
check "uhubctl could open the USB device node (DeviceAllow=char-usb_device)" sh -c "journalctl --no-pager -o cat -u '${uhubctl_unit}' | grep -q 'usbdev=opened'"
check "${uhubctl_unit} succeeded" test "$(prop Result "${uhubctl_unit}")" == success
ask unhang 1
wait_for 180 status_is "3/3 modems ready"
say "StatusText after the power cycle: $(prop StatusText)"
check "StatusText says 3/3 modems ready after the power cycle" status_is "3/3 modems ready"

# --- the service as it ran ----------------------------------------------------------------
check "NRestarts=0 (the hub never crashed or was restarted)" test "$(prop NRestarts)" -eq 0
pid="$(prop MainPID)"
if [[ "${pid}" != 0 && -r "/proc/${pid}/status" ]]; then
  say "hub uid/gids: $(awk '/^Uid:/ {print $2}' "/proc/${pid}/status") / $(awk '/^Groups:/ {$1=""; print}' "/proc/${pid}/status") (simhive=$(id -u simhive), dialout=$(getent group dialout | cut -d: -f3))"
fi

# --- the first-boot import from the FAT boot partition ------------------------------------
say "config: $(stat -c '%U:%G %a' /etc/simhive/config.yaml); /boot/firmware ($(findmnt -no FSTYPE /boot/firmware)): $(find /boot/firmware -mindepth 1 -maxdepth 1 -printf '%f ')"
check "/boot/firmware is the vfat partition" test "$(findmnt -no FSTYPE /boot/firmware)" == vfat
check "config.yaml is root:simhive 0640" test "$(stat -c '%U:%G %a' /etc/simhive/config.yaml)" == "root:simhive 640"
check "simhive.yaml was removed from the boot partition" test ! -e /boot/firmware/simhive.yaml
check "simhive.imported.txt was left on the boot partition" test -e /boot/firmware/simhive.imported.txt
check "config.yaml is the imported one" grep -q 'appliance-test' /etc/simhive/config.yaml
check "the packaged config was kept as config.yaml.previous" cmp -s /etc/simhive/config.yaml.previous /usr/lib/simhive/default-config.yaml

# --- a config error stops the unit instead of burning its restart limit ------------------
# Last: it leaves the hub stopped. SIMHIVE_CONFIG through a runtime drop-in,
# so the operator's file stays as it is.
printf 'hub:\n  no-such-key: 1\n' > /run/simhive-bad-config.yaml
chmod 0644 /run/simhive-bad-config.yaml
mkdir -p /run/systemd/system/simhive.service.d
printf '[Service]\nEnvironment=SIMHIVE_CONFIG=/run/simhive-bad-config.yaml\n' > /run/systemd/system/simhive.service.d/50-bad-config.conf
systemctl daemon-reload
systemctl restart simhive.service >/dev/null 2>&1
failed_state() { [[ "$(prop ActiveState)" == failed ]]; }
wait_for 120 failed_state
say "bad config: ActiveState=$(prop ActiveState) Result=$(prop Result) ExecMainStatus=$(prop ExecMainStatus) NRestarts=$(prop NRestarts)"
check "a config error (exit 2) leaves the unit failed, not restarting" failed_state
check "the hub exited 2 on the config error" test "$(prop ExecMainStatus)" == 2
check "no restart after the config error" test "$(prop NRestarts)" -eq 0

if [[ ${#fail[@]} -eq 0 ]]; then
  say "VERDICT PASS"
else
  journalctl -b --no-pager -n 80 -u simhive.service -u simhive-import-config.service -u "${uhubctl_unit}" | sed 's/^/SIMHIVE-APPLIANCE-LOG: /'
  say "VERDICT FAIL: $(IFS=';'; echo "${fail[*]}")"
fi
systemctl poweroff --no-block
