# shellcheck shell=bash disable=SC2154 # cache, work, kdir ...: set by common.sh or the sourcing script
# guest.sh: the booted system's disks, in ${work}.
#   prepare_root  a copy of the cached root, the kernel's modules, the arm64
#                 .deb installed with dpkg in a qemu-user chroot (its postinst
#                 runs there, as in provisioning/build-image.sh), the probe
#                 unit (guest/probe.sh), a stand-in uhubctl
#                 (guest/fake-uhubctl.sh), fstab with the FAT boot partition
#   make_images   root.img (mkfs.ext4 -d) and boot.fat: a vfat "bootfs"
#                 (mkfs.vfat + mcopy, no kernel vfat needed on the host)
#                 carrying simhive.yaml, the operator's route, imported at boot
# Needs common.sh, kernel.sh (kver, kdir) and: work, deb.

prepare_root() {
  local root="${work}/rootfs" guest="${appliance_repo}/test/appliance/guest"
  cp -a "${cache}/rootfs" "${root}"
  rm -f "${root}/.complete"
  mkdir -p "${root}/usr/lib/modules"
  cp -a "${kdir}/modules" "${root}/usr/lib/modules/${kver}"

  cp "${deb}" "${root}/tmp/simhive.deb"
  chroot "${root}" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 dpkg -i /tmp/simhive.deb \
    > "${work}/dpkg.log" 2>&1 || { cat "${work}/dpkg.log" >&2; die "dpkg -i $(basename "${deb}") failed in the guest root"; }
  rm -f "${root}/tmp/simhive.deb"
  [[ -L "${root}/etc/systemd/system/multi-user.target.wants/simhive.service" ]] || die "the package did not enable simhive.service"

  install -D -m 0755 "${guest}/probe.sh" "${root}/usr/local/sbin/simhive-appliance-probe"
  install -D -m 0755 "${guest}/fake-uhubctl.sh" "${root}/usr/local/sbin/uhubctl"
  cat > "${root}/etc/systemd/system/simhive-appliance-probe.service" <<'UNIT'
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
UNIT
  ln -sf /etc/systemd/system/simhive-appliance-probe.service \
    "${root}/etc/systemd/system/multi-user.target.wants/simhive-appliance-probe.service"

  echo simhive-appliance > "${root}/etc/hostname"
  install -d "${root}/boot/firmware"
  printf '%s\n' "/dev/vda / ext4 rw,errors=remount-ro 0 1" "LABEL=bootfs /boot/firmware vfat defaults 0 0" > "${root}/etc/fstab"
  # No login prompt on the test console.
  ln -sf /dev/null "${root}/etc/systemd/system/serial-getty@ttyAMA0.service"
  ln -sf /dev/null "${root}/etc/systemd/system/getty@tty1.service"
}

# write_test_config FILE: the packaged default config (packaging/config.yaml,
# with its modems.uhubctl) plus what the test needs: an id the probe finds,
# quick health pings, and modem 1's hub port for the power cycle.
write_test_config() {
  (cd "${appliance_repo}" && node --input-type=module -e '
    import { readFileSync } from "node:fs";
    import { parse, stringify } from "yaml";
    const config = parse(readFileSync("packaging/config.yaml", "utf8"));
    if (!config.modems?.uhubctl) throw new Error("packaging/config.yaml has no modems.uhubctl");
    config.hub = { ...config.hub, id: "appliance-test" };
    config.http = { ...config.http, host: "0.0.0.0", port: 8080 };
    config.modems.pingSeconds = 5;
    config.modems.commandTimeoutSeconds = 5;
    // QEMU puts the first usb-serial device on root hub port 1 of bus 1.
    config.modems.overrides = { "/dev/simhive/*-usb-0:1:1.0": { uhubctl: { hub: "1", port: 1 } } };
    process.stdout.write("# appliance-test: dropped on the boot partition, imported at first boot\n" + stringify(config));
  ') > "$1"
}

make_images() {
  local root="${work}/rootfs" size_mb
  size_mb="$(du -sm "${root}" | cut -f1)"
  size_mb=$((size_mb * 13 / 10 + 256))
  mkfs.ext4 -q -F -L simhive-root -d "${root}" "${work}/root.img" "${size_mb}M"
  truncate -s 32M "${work}/boot.fat"
  mkfs.vfat -n bootfs "${work}/boot.fat" >/dev/null 2>&1
  write_test_config "${work}/simhive.yaml"
  mcopy -i "${work}/boot.fat" "${work}/simhive.yaml" ::simhive.yaml
}
