#!/bin/sh
# fake-uhubctl.sh: the appliance test's stand-in for uhubctl, installed in the
# guest as /usr/local/sbin/uhubctl (first on the oneshot's PATH). There is no
# per-port-switching hub under qemu, so it records what the real one would be
# asked to do, and tries the two accesses the real one needs inside
# simhive-uhubctl@.service's sandbox: the hub port's sysfs "disable" file
# (uhubctl >= 2.5 on kernels >= 6.0 writes it first; it writes 0 here, which
# leaves the port on) and the hub's USB device node (libusb control requests).
location=""
port=""
args="$*"
while [ $# -gt 0 ]; do
  case "$1" in
    --location|-l) location="$2"; shift 2 ;;
    --ports|-p) port="$2"; shift 2 ;;
    *) shift ;;
  esac
done
case "${location}" in
  *-*) hub_dir="${location}:1.0"; port_dir="${location}-port${port}" ;;
  *) hub_dir="${location}-0:1.0"; port_dir="usb${location}-port${port}" ;;
esac
disable="/sys/bus/usb/devices/${hub_dir}/${port_dir}/disable"
if [ ! -e "${disable}" ]; then
  sysfs="missing:${disable}"
elif echo 0 2>/dev/null > "${disable}"; then
  sysfs=written
else
  sysfs="write-failed:${disable}"
fi
busnum="$(cat "/sys/bus/usb/devices/${hub_dir%%:*}/busnum" 2>/dev/null || echo "${location%%-*}")"
devnum="$(cat "/sys/bus/usb/devices/${hub_dir%%:*}/devnum" 2>/dev/null || echo 1)"
node="$(printf '/dev/bus/usb/%03d/%03d' "${busnum}" "${devnum}")"
if { : < "${node}"; } 2>/dev/null; then usbdev=opened; else usbdev="open-failed:${node}"; fi
sysmount="$(awk '$2 == "/sys" { split($4, o, ","); print o[1]; exit }' /proc/self/mounts)"
echo "fake-uhubctl: args=${args} sysfs=${sysfs} usbdev=${usbdev} sysmount=${sysmount}"
