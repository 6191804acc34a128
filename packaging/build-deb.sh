#!/bin/bash
# build-deb.sh: builds build/simhive_<version>_<arch>.deb with dpkg-deb.
#
#   packaging/build-deb.sh [--arch ARCH] [--app-only] [--allow-type-errors]
#
#   --arch ARCH   Debian architecture of the package (default: this machine's,
#                 `dpkg --print-architecture`). The app is JavaScript; its two
#                 native addons (classic-level for LevelDB, serialport's
#                 bindings-cpp) ship prebuilt binaries for linux-x64, -arm64
#                 and -arm inside their npm tarballs and pick one at run time,
#                 so an arm64 package builds on amd64: npm is told the target
#                 (--cpu/--os) for optional dependencies, install scripts are
#                 not run, and prebuilds of other platforms are pruned.
#   --app-only    stop after build/app (compiled app + production
#                 node_modules), e.g. for provisioning/install.sh --app-dir.
#
# Steps: tsc (packaging/tsconfig.build.json) into build/app, package.json and
# non-TypeScript files beside it, `npm ci --omit=dev` into build/app, then a
# package tree laid out by provisioning/install.sh --files-only, maintainer
# scripts, md5sums, dpkg-deb --root-owner-group.
# Needs: node, npm, dpkg-deb, the checkout's dev dependencies (`npm ci` first:
# tsc); network: the npm registry (npm ci of the production modules).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly repo
readonly out="${repo}/build"
arch=""
app_only=0
allow_type_errors=0

die() { echo "build-deb.sh: error: $*" >&2; exit 1; }
step() { printf 'build-deb.sh: [%s] %s\n' "$(date +%T)" "$*"; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --arch) arch="${2:?--arch needs a Debian architecture}"; shift 2 ;;
    --arch=*) arch="${1#--arch=}"; shift ;;
    --app-only) app_only=1; shift ;;
    --allow-type-errors) allow_type_errors=1; shift ;;
    -h|--help) sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
done

for tool in node npm dpkg-deb dpkg; do
  command -v "${tool}" >/dev/null || die "${tool} not found (apt-get install nodejs npm dpkg-dev)"
done
[[ -f "${repo}/core/main.ts" ]] || die "core/main.ts not found: nothing to package yet"
[[ -x "${repo}/node_modules/.bin/tsc" ]] ||
  die "no TypeScript compiler in ${repo}/node_modules: run npm ci first (in ${repo})"
[[ -n "${arch}" ]] || arch="$(dpkg --print-architecture)"
case "${arch}" in
  amd64) npm_cpu=x64 ;;
  arm64) npm_cpu=arm64 ;;
  armhf) npm_cpu=arm ;;
  *) die "unsupported --arch ${arch} (amd64, arm64, armhf)" ;;
esac
version="$(node -p 'require(process.argv[1]).version' "${repo}/package.json")"
[[ "${version}" =~ ^[0-9][0-9A-Za-z.+~-]*$ ]] || die "package.json version '${version}' is not a Debian version"

# --- the app: compiled JavaScript -------------------------------------------------
app="${out}/app"
step "compiling TypeScript into ${app}"
rm -rf "${app}"
mkdir -p "${app}"
if ! (cd "${repo}" && node_modules/.bin/tsc -p packaging/tsconfig.build.json --outDir "${app}"); then
  [[ "${allow_type_errors}" == 1 ]] || die "tsc reported errors (see above); --allow-type-errors packages anyway"
  echo "build-deb.sh: warning: packaging despite type errors" >&2
fi
[[ -f "${app}/core/main.js" ]] || die "tsc wrote no ${app}/core/main.js"
# Files the code reads at run time that are not TypeScript (JSON tables,
# schemas ...), at the same relative paths.
(cd "${repo}" && find core plugins -type f ! -name '*.ts' ! -name '*.md' -print0 2>/dev/null) |
  while IFS= read -r -d '' f; do install -D -m 0644 "${repo}/${f}" "${app}/${f}"; done
# package.json: "type": "module" for the .js files, the version for
# `simhive version`, and the dependencies for npm ci.
node -e '
  const pkg = require(process.argv[1]);
  delete pkg.devDependencies; delete pkg.scripts; delete pkg.bin;
  require("fs").writeFileSync(process.argv[2], JSON.stringify(pkg, null, 2) + "\n");
' "${repo}/package.json" "${app}/package.json"
cp "${repo}/package-lock.json" "${app}/package-lock.json"

step "production node_modules for linux-${npm_cpu} (npm ci --omit=dev)"
(cd "${app}" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  --os=linux --cpu="${npm_cpu}" --loglevel=error)
rm -f "${app}/package-lock.json"
# Prebuilt addons for other platforms, tests and docs inside node_modules.
find "${app}/node_modules" -type d -path '*/prebuilds/*' -prune ! -name "linux-${npm_cpu}" -exec rm -rf {} +
find "${app}/node_modules" -depth -type d \( -name test -o -name tests -o -name __tests__ -o -name example -o -name examples -o -name .github \) -exec rm -rf {} +
find "${app}/node_modules" -type f \( -name '*.md' -o -name '*.markdown' -o -name '*.ts' -o -name '*.map' -o -name '.npmignore' -o -name '.eslintrc*' -o -name '*.gyp' -o -name '*.gypi' \) ! -name '*.d.ts' -delete
find "${app}/node_modules" -type f \( -name '*.d.ts' -o -name '*.musl.node' -o -name '*.html' -o -name '.gitattributes' -o -name '.gitignore' \) -delete
# Sources of the native addons: the prebuilt binaries are what runs.
for addon in classic-level/deps @serialport/bindings-cpp/src serialport-gsm/node_modules/@serialport/bindings-cpp/src; do
  rm -rf "${app}/node_modules/${addon}"
done
rm -rf "${app}/node_modules/pino-abstract-transport/.husky"
# Scripts (#! first) stay executable, nothing else needs an x bit (dlopen
# does not).
find "${app}/node_modules" -type f -exec chmod 0644 {} +
grep -rlZ --include='*' -m1 '^#!' "${app}/node_modules" 2>/dev/null |
  while IFS= read -r -d '' f; do head -c2 "${f}" | grep -q '#!' && chmod 0755 "${f}"; done
# tsx (a runtime dependency of the checkout's bin/simhive.js) and its esbuild
# binary are not used by compiled JavaScript.
rm -rf "${app}/node_modules/tsx" "${app}/node_modules/esbuild" "${app}/node_modules/@esbuild" "${app}/node_modules/.bin"
for addon in classic-level @serialport/bindings-cpp; do
  if [[ -d "${app}/node_modules/${addon}" && ! -d "${app}/node_modules/${addon}/prebuilds/linux-${npm_cpu}" ]]; then
    die "${addon} has no prebuilt binary for linux-${npm_cpu}: build this package on ${arch} (npm rebuild)"
  fi
done
chmod -R u+rwX,go+rX,go-w "${app}"
# The entry point keeps its x bit when tsc kept its #! line.
if head -c2 "${app}/core/main.js" | grep -q '#!'; then chmod 0755 "${app}/core/main.js"; else chmod 0644 "${app}/core/main.js"; fi

if [[ "${app_only}" == 1 ]]; then
  step "app ready: ${app}"
  exit 0
fi

# --- the package tree ----------------------------------------------------------------
pkg="${out}/deb-root"
step "package tree in ${pkg}"
rm -rf "${pkg}"
mkdir -p "${pkg}"
"${repo}/provisioning/install.sh" --root "${pkg}" --files-only --app-dir "${app}"
install -D -m 0644 "${repo}/systemd/README.md" "${pkg}/usr/share/doc/simhive/systemd.md"
install -D -m 0644 "${repo}/packaging/README.md" "${pkg}/usr/share/doc/simhive/packaging.md"
[[ -f "${repo}/README.md" ]] && install -D -m 0644 "${repo}/README.md" "${pkg}/usr/share/doc/simhive/README.md"
install -D -m 0644 "${repo}/packaging/debian/copyright" "${pkg}/usr/share/doc/simhive/copyright"
# A native package's changelog, dated by the last commit (reproducible).
changelog_date="$(git -C "${repo}" log -1 --format=%cD 2>/dev/null || date -R)"
printf 'simhive (%s) unstable; urgency=medium\n\n  * Built from the simhive repository; changes are in its git history.\n\n -- simhive maintainers <simhive@users.noreply.github.com>  %s\n' \
  "${version}" "${changelog_date}" | gzip -9n > "${pkg}/usr/share/doc/simhive/changelog.gz"
chmod 0644 "${pkg}/usr/share/doc/simhive/changelog.gz"
install -D -m 0644 "${repo}/packaging/debian/lintian-overrides" "${pkg}/usr/share/lintian/overrides/simhive"
find "${pkg}" -type d -exec chmod 0755 {} +
# /etc/simhive holds API keys: 0750 in the package already (root:root until
# postinst, install.sh --activate-only, gives it to group simhive, which
# exists only on the target).
chmod 0750 "${pkg}/etc/simhive"

install -d -m 0755 "${pkg}/DEBIAN"
installed_kb="$(du -sk --exclude=DEBIAN "${pkg}" | cut -f1)"
sed -e "s/@VERSION@/${version}/" -e "s/@ARCH@/${arch}/" -e "s/@INSTALLED_SIZE@/${installed_kb}/" \
  "${repo}/packaging/debian/control" > "${pkg}/DEBIAN/control"
echo /etc/simhive/config.yaml > "${pkg}/DEBIAN/conffiles"
for script in postinst prerm postrm; do
  install -m 0755 "${repo}/packaging/debian/${script}" "${pkg}/DEBIAN/${script}"
done
(cd "${pkg}" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' |
  sort -z | xargs -0 md5sum) > "${pkg}/DEBIAN/md5sums"
chmod 0644 "${pkg}/DEBIAN/md5sums" "${pkg}/DEBIAN/control" "${pkg}/DEBIAN/conffiles"

deb="${out}/simhive_${version}_${arch}.deb"
step "dpkg-deb --build"
dpkg-deb --root-owner-group -Zxz --build "${pkg}" "${deb}" >/dev/null
step "built ${deb} ($(du -h "${deb}" | cut -f1), installed ${installed_kb} KiB)"
