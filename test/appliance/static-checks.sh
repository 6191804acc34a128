#!/bin/bash
# static-checks.sh: the appliance's checks that need no boot.
#   - shellcheck on every shell script under systemd/, provisioning/,
#     packaging/, test/appliance/ (sourced libraries and the guest's scripts
#     included) and .ci/run;
#   - provisioning/install.sh into a scratch root, twice (the second run must
#     change nothing); --prefix is refused (the units name /usr paths);
#   - packaging/build-deb.sh in a checkout without node_modules says
#     "run npm ci first";
#   - `systemd-analyze verify` on every unit, in that root: any output fails
#     (verify exits 0 on unknown keys); only /bin/sh is given to the root,
#     which every Debian has (Essential), nothing a package must depend on;
#   - `systemd-analyze security --offline=true` on simhive.service: must rate
#     OK or better;
#   - the hub exits 2 on a config error at start (RestartPreventExitStatus=2);
#   - uhubctl-cycle's instance-name parsing, and the polkit rule allowing the
#     same names (and only start, only for user simhive);
#   - with the appliance cache (test/appliance/cache.sh), in trixie's own
#     tools: `systemd-analyze verify` and `security` in the trixie root with
#     the install step applied (an overlay, the cache stays as it is),
#     `udevadm verify` of the rules, and `cloud-init schema` (cloud-init 25.1
#     with python3-netplan) on the cloud-init examples;
#   - lintian on build/simhive_*.deb (--deb builds the arm64 one first).
# --strict (CI): a check that cannot run (no cache, no package, no lintian)
# fails instead of printing SKIP, and an arm64 package must be there.
# Needs: systemd (systemd-analyze), shellcheck, node; root for the trixie
# checks; optional: lintian.
# Prints "N passed, N failed, N skipped" and exits non-zero on any failure.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly repo
readonly cache="${SIMHIVE_APPLIANCE_CACHE:-/var/cache/simhive-appliance}"
build_deb=0
strict=0
for arg in "$@"; do
  case "${arg}" in
    --deb) build_deb=1 ;;
    --strict) strict=1 ;;
    *) echo "static-checks: unknown argument ${arg} (--deb, --strict)" >&2; exit 2 ;;
  esac
done

passed=0
failed=0
skipped=0
scratch="$(mktemp -d)"
overlay=""
cleanup() {
  if [[ -n "${overlay}" ]] && mountpoint -q "${overlay}"; then umount "${overlay}" || umount -l "${overlay}" || true; fi
  rm -rf --one-file-system "${scratch}"
}
trap cleanup EXIT

ok() { echo "PASS  $*"; passed=$((passed + 1)); }
bad() { echo "FAIL  $*"; failed=$((failed + 1)); }
skip() {
  if [[ "${strict}" == 1 ]]; then bad "(--strict: cannot be skipped) $*"; else echo "SKIP  $*"; skipped=$((skipped + 1)); fi
}
need() { command -v "$1" >/dev/null 2>&1 || { echo "static-checks: $1 not found (apt-get install $2)" >&2; exit 2; }; }

need shellcheck shellcheck
need systemd-analyze systemd
need node nodejs

# --- shellcheck -------------------------------------------------------------
mapfile -t scripts < <(
  cd "${repo}" && {
    for dir in systemd provisioning packaging test/appliance; do
      [[ -d "${dir}" ]] || continue
      find "${dir}" -type f -name '*.sh' -print
      find "${dir}" -type f -perm -u+x ! -name '*.sh' -print0 | xargs -0 -r grep -lE '^#!(/usr)?/bin/(env )?(ba)?sh' || true
    done
    echo .ci/run
  } | sort -u)
if [[ ${#scripts[@]} -lt 10 ]]; then
  bad "shellcheck: only ${#scripts[@]} scripts found"
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
mkdir -p "${scratch}/prefix-root"
if out="$("${repo}/provisioning/install.sh" --root "${scratch}/prefix-root" --prefix /usr/local 2>&1)"; then
  bad "install.sh --prefix /usr/local was accepted (the units name /usr/bin/simhive)"
elif grep -q 'below /usr only' <<<"${out}"; then
  ok "install.sh --prefix is refused with a reason"
else
  bad "install.sh --prefix: unexpected message"; echo "${out}"
fi
if cmp -s "${root}/usr/lib/simhive/default-config.yaml" "${repo}/packaging/config.yaml" &&
  [[ -x "${root}/usr/bin/simhive" ]] && grep -q '/usr/lib/simhive/app/core/main.js' "${root}/usr/bin/simhive"; then
  ok "install.sh: /usr/bin/simhive launcher and /usr/lib/simhive/default-config.yaml"
else
  bad "install.sh: launcher or default-config.yaml missing"
fi

# --- build-deb.sh on a checkout without node_modules --------------------------------
mkdir -p "${scratch}/fresh"
tar -C "${repo}" --exclude=./node_modules --exclude=./build --exclude=./.git -cf - . | tar -C "${scratch}/fresh" -xf -
if out="$("${scratch}/fresh/packaging/build-deb.sh" --app-only 2>&1)"; then
  bad "build-deb.sh without node_modules succeeded?"
elif grep -q 'run npm ci first' <<<"${out}" && ! grep -q 'allow-type-errors' <<<"${out}"; then
  ok "build-deb.sh without node_modules says 'run npm ci first'"
else
  bad "build-deb.sh without node_modules: unexpected message"; echo "${out}"
fi
rm -rf "${scratch}/fresh"

# --- systemd-analyze verify ---------------------------------------------------
# verify resolves dependencies and ExecStart=/ExecReload= inside --root: give
# the scratch root the host's stock units and /bin/sh (merged /usr as on
# trixie); the install step put the rest there.
cp -rn /usr/lib/systemd/system/. "${root}/usr/lib/systemd/system/"
install -D -m 0755 "$(readlink -f /bin/sh)" "${root}/usr/bin/sh"
[[ -e "${root}/bin" ]] || ln -s usr/bin "${root}/bin"
mapfile -t units < <(find "${repo}/systemd" -maxdepth 1 -name '*.service' -printf '%f\n' | sort | sed 's|@\.service$|@1-1.3-2.service|')
verify_out="$(systemd-analyze verify --root="${root}" "${units[@]}" 2>&1)" || true
if [[ -z "${verify_out}" ]]; then
  ok "systemd-analyze verify: ${units[*]}"
else
  bad "systemd-analyze verify printed:"; echo "${verify_out}"
fi

# --- systemd-analyze security -------------------------------------------------
rating() { grep -o 'Overall exposure level for [^:]*: .*' | sed 's/ *$//' | head -1; }
security_out="$(systemd-analyze security --offline=true --root="${root}" simhive.service 2>&1 || true)"
overall="$(rating <<<"${security_out}" || true)"
if [[ "${overall}" =~ :\ ([0-9.]+)\ (PERFECT|SAFE|OK) ]]; then
  ok "systemd-analyze security: ${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
else
  bad "systemd-analyze security: '${overall:-no rating}' (OK or better needed)"
  echo "${security_out}" | grep -F '✗' || true
fi

# --- the hub's exit status on a config error ---------------------------------------
printf 'hub:\n  no-such-key: 1\n' > "${scratch}/bad-config.yaml"
rc=0
(cd "${repo}" && timeout 60 node --import tsx core/main.ts start --config "${scratch}/bad-config.yaml") > "${scratch}/bad-config.log" 2>&1 || rc=$?
if [[ "${rc}" == 2 ]] && grep -q 'RestartPreventExitStatus=2' "${repo}/systemd/simhive.service"; then
  ok "simhive start exits 2 on a config error, which simhive.service does not restart"
else
  bad "config error at start: exit ${rc} (2 expected), RestartPreventExitStatus=2 in simhive.service: $(grep -c 'RestartPreventExitStatus=2' "${repo}/systemd/simhive.service")"
  cat "${scratch}/bad-config.log"
fi

# --- uhubctl-cycle and the polkit rule: the same instance names ---------------------
mkdir -p "${scratch}/bin"
printf '#!/bin/sh\necho "uhubctl $*"\n' > "${scratch}/bin/uhubctl"
chmod 0755 "${scratch}/bin/uhubctl"
valid=("1-1.3-2:--location 1-1.3 --ports 2" "1-1:--location 1 --ports 1" "2-1.4.3-4:--location 2-1.4.3 --ports 4" "3-2-11:--location 3-2 --ports 11")
invalid=("" "1" "1-" "-1-2" "a-1" "1--2" "1-1.3-2;reboot" "../1-2" "1-1.3-2 -a off" "1-1.-2")
cycle_ok=1
for case in "${valid[@]}"; do
  name="${case%%:*}"; want="${case#*:}"
  got="$(PATH="${scratch}/bin:${PATH}" "${repo}/systemd/libexec/uhubctl-cycle" "${name}" 2>&1 | grep '^uhubctl ' || true)"
  [[ "${got}" == "uhubctl ${want} --action cycle --delay 3" ]] || { cycle_ok=0; echo "  ${name}: got '${got}'"; }
done
for name in "${invalid[@]}"; do
  rc=0
  out="$(PATH="${scratch}/bin:${PATH}" "${repo}/systemd/libexec/uhubctl-cycle" "${name}" 2>&1)" || rc=$?
  if [[ "${rc}" != 2 ]] || grep -q '^uhubctl ' <<<"${out}"; then cycle_ok=0; echo "  '${name}': exit ${rc}, ${out}"; fi
done
if [[ "${cycle_ok}" == 1 ]]; then ok "uhubctl-cycle: ${#valid[@]} instance names parsed, ${#invalid[@]} refused"; else bad "uhubctl-cycle instance names"; fi
# shellcheck disable=SC2016 # JavaScript, not shell
if node -e '
  const rule = require("fs").readFileSync(process.argv[1], "utf8");
  let check;
  const polkit = { Result: { YES: "yes", NOT_HANDLED: "not-handled" }, addRule: (f) => { check = f; } };
  new Function("polkit", rule)(polkit);
  const ask = (user, verb, unit) => check({ id: "org.freedesktop.systemd1.manage-units", lookup: (k) => ({ verb, unit })[k] }, { user });
  const [valid, invalid] = [JSON.parse(process.argv[2]), JSON.parse(process.argv[3])];
  const problems = [];
  for (const name of valid) {
    const unit = `simhive-uhubctl@${name}.service`;
    if (ask("simhive", "start", unit) !== "yes") problems.push(`${unit} start not allowed`);
    if (ask("simhive", "stop", unit) !== "not-handled") problems.push(`${unit} stop allowed`);
    if (ask("pi", "start", unit) !== "not-handled") problems.push(`${unit} allowed for user pi`);
  }
  for (const name of invalid) if (ask("simhive", "start", `simhive-uhubctl@${name}.service`) !== "not-handled") problems.push(`"${name}" allowed`);
  if (ask("simhive", "start", "simhive.service") !== "not-handled") problems.push("simhive.service allowed");
  if (problems.length) { console.error(problems.join("\n")); process.exit(1); }
' "${repo}/systemd/polkit/50-simhive-uhubctl.rules" \
  "$(printf '%s\n' "${valid[@]}" | cut -d: -f1 | node -e 'console.log(JSON.stringify(require("fs").readFileSync(0, "utf8").trim().split("\n")))')" \
  "$(printf '%s\n' "${invalid[@]}" | node -e 'console.log(JSON.stringify(require("fs").readFileSync(0, "utf8").split("\n").slice(0, -1)))')"; then
  ok "polkit rule: start of the same names for user simhive only, nothing else"
else
  bad "polkit rule"
fi

# --- trixie's own tools, in the appliance cache --------------------------------------------
trixie="${cache}/rootfs"
tools="${cache}/tools-root"
if [[ "$(id -u)" != 0 ]]; then
  skip "trixie checks (systemd-analyze, udevadm, cloud-init): need root for chroot"
elif [[ ! -f "${trixie}/.complete" ]]; then
  skip "trixie checks (systemd-analyze, udevadm): no appliance cache in ${trixie} (test/appliance/cache.sh)"
else
  overlay="${scratch}/trixie"
  mkdir -p "${overlay}" "${scratch}/upper" "${scratch}/ovl-work"
  if mount -t overlay overlay -o "lowerdir=${trixie},upperdir=${scratch}/upper,workdir=${scratch}/ovl-work" "${overlay}" 2>/dev/null; then
    :
  else
    overlay=""
    cp -a "${trixie}" "${scratch}/trixie-copy"
    overlay_copy="${scratch}/trixie-copy"
  fi
  t="${overlay:-${overlay_copy:-}}"
  "${repo}/provisioning/install.sh" --root "${t}" > "${scratch}/install-trixie.log" 2>&1 || { bad "install.sh into the trixie root"; cat "${scratch}/install-trixie.log"; }
  in_trixie() { chroot "${t}" /usr/bin/env LC_ALL=C.UTF-8 "$@"; }
  trixie_verify="$(in_trixie systemd-analyze verify "${units[@]}" 2>&1)" || true
  if [[ -z "${trixie_verify}" ]]; then
    ok "systemd-analyze verify (trixie's systemd $(in_trixie systemctl --version | awk 'NR==1 {print $2}'), procps absent): ${units[*]}"
  else
    bad "systemd-analyze verify (trixie's) printed:"; echo "${trixie_verify}"
  fi
  trixie_security="$(in_trixie systemd-analyze security --offline=true simhive.service 2>&1 || true)"
  overall="$(rating <<<"${trixie_security}" || true)"
  if [[ "${overall}" =~ :\ ([0-9.]+)\ (PERFECT|SAFE|OK) ]]; then
    ok "systemd-analyze security (trixie's systemd): ${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
  else
    bad "systemd-analyze security (trixie's systemd): '${overall:-no rating}'"; echo "${trixie_security}" | tail -3
  fi
  if out="$(in_trixie udevadm verify --resolve-names=never /usr/lib/udev/rules.d/70-simhive-modems.rules 2>&1)"; then
    ok "udevadm verify (trixie's)"
  else
    bad "udevadm verify (trixie's)"; echo "${out}"
  fi
  if [[ -n "${overlay}" ]]; then umount "${overlay}"; overlay=""; fi
  rm -rf "${scratch}/upper" "${scratch}/ovl-work" "${scratch}/trixie-copy"
fi

# --- cloud-init examples, with trixie's cloud-init and python3-netplan ---------------------
if [[ "$(id -u)" != 0 ]]; then
  skip "cloud-init schema: needs root for chroot"
elif [[ ! -f "${tools}/.complete" ]]; then
  skip "cloud-init schema: no ${tools} (test/appliance/cache.sh)"
else
  mkdir -p "${tools}/tmp/simhive-cloud-init"
  cp "${repo}"/provisioning/cloud-init/*.yaml "${tools}/tmp/simhive-cloud-init/"
  for example in "${repo}"/provisioning/cloud-init/*.yaml; do
    name="$(basename "${example}")"
    case "${name}" in
      meta-data*) continue ;;
      network-config*) args=(--schema-type network-config) ;;
      *) args=() ;;
    esac
    if out="$(chroot "${tools}" /usr/bin/env LC_ALL=C.UTF-8 cloud-init schema "${args[@]}" --config-file "/tmp/simhive-cloud-init/${name}" 2>&1)" &&
      ! grep -qiE 'invalid|error|not allowed|deprecat' <<<"${out}"; then
      ok "cloud-init schema (trixie's $(chroot "${tools}" cloud-init --version 2>&1 | awk '{print $NF}')): ${name}"
    else
      bad "cloud-init schema: ${name}"; echo "${out}"
    fi
  done
  rm -rf "${tools}/tmp/simhive-cloud-init"
fi

# --- the package --------------------------------------------------------------------
if [[ "${build_deb}" == 1 ]]; then
  if "${repo}/packaging/build-deb.sh" --arch arm64 > "${scratch}/deb.log" 2>&1; then ok "build-deb.sh --arch arm64"; else bad "build-deb.sh --arch arm64"; tail -30 "${scratch}/deb.log"; fi
fi
shopt -s nullglob
debs=("${repo}"/build/simhive_*.deb)
arm64_debs=("${repo}"/build/simhive_*_arm64.deb)
if [[ ${#debs[@]} -eq 0 ]]; then
  skip "lintian: no build/simhive_*.deb (run packaging/build-deb.sh --arch arm64 or pass --deb)"
elif ! command -v lintian >/dev/null 2>&1; then
  skip "lintian: not installed"
else
  [[ "${strict}" == 0 || ${#arm64_debs[@]} -gt 0 ]] || bad "lintian: no arm64 package in build/ (--strict)"
  for deb in "${debs[@]}"; do
    lint="$(lintian --tag-display-limit 0 "${deb}" 2>&1 || true)"
    errors="$(grep -c '^E:' <<<"${lint}" || true)"
    warnings="$(grep -c '^W:' <<<"${lint}" || true)"
    if [[ "${errors}" == 0 ]]; then
      ok "lintian $(basename "${deb}"): 0 errors, ${warnings} warnings"
      grep '^W:' <<<"${lint}" || true
    else
      bad "lintian $(basename "${deb}"): ${errors} errors"; grep '^E:' <<<"${lint}"
    fi
  done
fi

echo "${passed} passed, ${failed} failed, ${skipped} skipped"
[[ "${failed}" == 0 ]]
