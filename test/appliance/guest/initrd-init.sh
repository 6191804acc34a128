#!/bin/busybox sh
# shellcheck shell=sh
# The appliance test's initrd /init (busybox): load the disk and file system
# drivers, mount /dev/vda, hand over to systemd. Installed by lib/kernel.sh.
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
