#!/bin/bash
# static-checks.sh: the appliance's checks that need no boot.
#   - shellcheck on every shell script under systemd/, provisioning/,
#     packaging/ and test/appliance/;
#   - provisioning/install.sh into a scratch root, twice (the second run must
#     change nothing);
#   - `systemd-analyze verify` on every unit, in that root: any output fails
#     (verify exits 0 on unknown keys);
#   - `systemd-analyze security --offline=true` on simhive.service: must rate
#     OK or better;
#   - udev rules through `udevadm verify` (systemd >= 254: the host's, else
#     the appliance test's cached trixie root file system, else skipped);
#   - the polkit rule parses as JavaScript (node --check);
#   - cloud-init examples through `cloud-init schema`, when cloud-init is
#     installed;
#   - lintian on build/simhive_*.deb when one is there (--deb builds it first).
# Needs: systemd (systemd-analyze), shellcheck; optional: lintian, cloud-init.
# Prints "N passed, N failed" and exits non-zero on any failure.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly repo
readonly cache="${SIMHIVE_APPLIANCE_CACHE:-/var/cache/simhive-appliance}"
build_deb=0
[[ "${1:-}" == "--deb" ]] && build_deb=1

passed=0
failed=0
skipped=0
scratch="$(mktemp -d)"
trap 'rm -rf "${scratch}"' EXIT

ok() { echo "PASS  $*"; passed=$((passed + 1)); }
bad() { echo "FAIL  $*"; failed=$((failed + 1)); }
skip() { echo "SKIP  $*"; skipped=$((skipped + 1)); }
need() { command -v "$1" >/dev/null 2>&1 || { echo "static-checks: $1 not found (apt-get install $2)" >&2; exit 2; }; }

need shellcheck shellcheck
need systemd-analyze systemd

# --- shellcheck -------------------------------------------------------------
mapfile -t scripts < <(
  cd "${repo}" && for dir in systemd provisioning packaging test/appliance; do
    [[ -d "${dir}" ]] || continue
    find "${dir}" -type f \( -name '*.sh' -o -perm -u+x \) -print0 | xargs -0 -r grep -lE '^#!(/usr)?/bin/(env )?(ba)?sh' || true
  done | sort -u)
if [[ ${#scripts[@]} -eq 0 ]]; then
  bad "shellcheck: no scripts found"
elif (cd "${repo}" && shellcheck -x "${scripts[@]}"); then
  ok "shellcheck: ${#scripts[@]} scripts"
else
  bad "shellcheck"
fi

# --- install.sh, twice --------------------------------------------------------
root="${scratch}/root"
mkdir -p "${root}"
listing() { (cd "${root}" && find . -printf '%p %m %U:%G %s %l\n' | sort && find . -type f -print0 | sort -z | xargs -0 md5sum); }
if "${repo}/provisioning/install.sh" --root "${root}" > "${scratch}/install1.log" 2>&1; then
  ok "install.sh --root (first run)"
else
  bad "install.sh --root (first run)"; cat "${scratch}/install1.log"
fi
listing > "${scratch}/before"
if "${repo}/provisioning/install.sh" --root "${root}" > "${scratch}/install2.log" 2>&1 &&
  listing > "${scratch}/after" && diff -u "${scratch}/before" "${scratch}/after"; then
  ok "install.sh --root is idempotent (second run changed nothing)"
else
  bad "install.sh --root second run"; cat "${scratch}/install2.log"
fi

# --- systemd-analyze verify ---------------------------------------------------
# verify resolves dependencies and ExecStart= inside --root: give the scratch
# root the host's stock units and the commands the units name.
cp -rn /usr/lib/systemd/system/. "${root}/usr/lib/systemd/system/"
for cmd in /usr/bin/kill /bin/kill; do
  if [[ -x "${cmd}" ]]; then install -D -m 0755 "${cmd}" "${root}/usr/bin/kill"; break; fi
done
mapfile -t units < <(find "${repo}/systemd" -maxdepth 1 -name '*.service' -printf '%f\n' | sort | sed 's|@\.service$|@1-1.3-2.service|')
verify_out="$(systemd-analyze verify --root="${root}" "${units[@]}" 2>&1)" || true
if [[ -z "${verify_out}" ]]; then
  ok "systemd-analyze verify: ${units[*]}"
else
  bad "systemd-analyze verify printed:"; echo "${verify_out}"
fi

# --- systemd-analyze security -------------------------------------------------
security_out="$(systemd-analyze security --offline=true --root="${root}" simhive.service 2>&1 || true)"
overall="$(grep -o 'Overall exposure level for simhive.service: .*' <<<"${security_out}" | sed 's/ *$//' || true)"
if [[ "${overall}" =~ :\ ([0-9.]+)\ (PERFECT|SAFE|OK) ]]; then
  ok "systemd-analyze security: ${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
else
  bad "systemd-analyze security: '${overall:-no rating}' (OK or better needed)"
  echo "${security_out}" | grep -F '✗' || true
fi

# The target's systemd (trixie's), when the appliance cache has it.
if [[ -x "${cache}/rootfs/usr/bin/systemd-analyze" && -e "${cache}/rootfs/.complete" ]]; then
  cp "${repo}/systemd/simhive.service" "${cache}/rootfs/tmp/simhive.service"
  trixie_out="$(chroot "${cache}/rootfs" systemd-analyze security --offline=true /tmp/simhive.service 2>&1 || true)"
  rm -f "${cache}/rootfs/tmp/simhive.service"
  if [[ "$(grep -o 'Overall exposure level.*' <<<"${trixie_out}")" =~ :\ ([0-9.]+)\ (PERFECT|SAFE|OK) ]]; then
    ok "systemd-analyze security (trixie's systemd): ${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
  else
    bad "systemd-analyze security (trixie's systemd)"; echo "${trixie_out}" | tail -3
  fi
fi

# --- udev rules -----------------------------------------------------------------
rules="${repo}/systemd/udev/70-simhive-modems.rules"
if udevadm verify --help >/dev/null 2>&1; then
  if out="$(udevadm verify --resolve-names=never "${rules}" 2>&1)"; then ok "udevadm verify"; else bad "udevadm verify"; echo "${out}"; fi
elif [[ -x "${cache}/rootfs/usr/bin/udevadm" && -e "${cache}/rootfs/.complete" ]]; then
  cp "${rules}" "${cache}/rootfs/tmp/70-simhive-modems.rules"
  if out="$(chroot "${cache}/rootfs" udevadm verify --resolve-names=never /tmp/70-simhive-modems.rules 2>&1)"; then
    ok "udevadm verify (trixie's, in ${cache}/rootfs)"
  else
    bad "udevadm verify (trixie's)"; echo "${out}"
  fi
  rm -f "${cache}/rootfs/tmp/70-simhive-modems.rules"
else
  skip "udevadm verify: needs systemd >= 254 or the appliance cache (test/appliance/run.sh)"
fi

# --- polkit rule ----------------------------------------------------------------
if command -v node >/dev/null 2>&1; then
  cp "${repo}/systemd/polkit/50-simhive-uhubctl.rules" "${scratch}/polkit-rule.js"
  if node --check "${scratch}/polkit-rule.js"; then ok "polkit rule parses"; else bad "polkit rule parses"; fi
else
  skip "polkit rule: node not found"
fi

# --- cloud-init examples ----------------------------------------------------------
# user-data is checked by any cloud-init; network-config needs --schema-type
# (cloud-init >= 23.4; Debian bookworm has 22.4, trixie has it).
if command -v cloud-init >/dev/null 2>&1; then
  has_schema_type=0
  cloud-init schema --help 2>&1 | grep -q -- '--schema-type' && has_schema_type=1
  for example in "${repo}"/provisioning/cloud-init/*.yaml; do
    [[ -e "${example}" ]] || continue
    name="$(basename "${example}")"
    args=(--config-file "${example}")
    case "${name}" in
      meta-data*) continue ;;
      network-config*)
        if [[ "${has_schema_type}" == 0 ]]; then skip "cloud-init schema: ${name} (this cloud-init has no --schema-type)"; continue; fi
        args=(--schema-type network-config "${args[@]}") ;;
    esac
    if out="$(cloud-init schema "${args[@]}" 2>&1)"; then
      ok "cloud-init schema: ${name}"
    else
      bad "cloud-init schema: ${name}"; echo "${out}"
    fi
  done
else
  skip "cloud-init schema: cloud-init not installed"
fi

# --- the package --------------------------------------------------------------------
if [[ "${build_deb}" == 1 ]]; then
  if "${repo}/packaging/build-deb.sh" > "${scratch}/deb.log" 2>&1; then ok "build-deb.sh"; else bad "build-deb.sh"; tail -30 "${scratch}/deb.log"; fi
fi
shopt -s nullglob
debs=("${repo}"/build/simhive_*.deb)
if [[ ${#debs[@]} -eq 0 ]]; then
  skip "lintian: no build/simhive_*.deb (run packaging/build-deb.sh or pass --deb)"
elif ! command -v lintian >/dev/null 2>&1; then
  skip "lintian: not installed"
else
  for deb in "${debs[@]}"; do
    lint="$(lintian --no-tag-display-limit "${deb}" 2>&1 || true)"
    errors="$(grep -c '^E:' <<<"${lint}" || true)"
    warnings="$(grep -c '^W:' <<<"${lint}" || true)"
    if [[ "${errors}" == 0 ]]; then
      ok "lintian $(basename "${deb}"): 0 errors, ${warnings} warnings"
    else
      bad "lintian $(basename "${deb}"): ${errors} errors"; grep '^E:' <<<"${lint}"
    fi
  done
fi

echo "${passed} passed, ${failed} failed, ${skipped} skipped"
[[ "${failed}" == 0 ]]
