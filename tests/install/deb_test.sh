#!/usr/bin/env bash
# Builds the Debian package with cpack into a scratch directory and checks with dpkg-deb what it holds: the programs,
# the units, the D-Bus policy, the tmpfiles.d entry, the flags files as conffiles, and the runtime Depends.
# Usage: deb_test.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: deb_test.sh BUILD_DIR}
out=$(mktemp -d /tmp/kctl-deb-test.XXXXXX)
trap 'rm -rf "$out"' EXIT
fail=0
problem() { echo "FAIL: $*"; fail=1; }

version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")/\1/p' "$build/CPackConfig.cmake")
start=$(date +%s.%N)
cpack -G DEB -B "$out" --config "$build/CPackConfig.cmake" >"$out/cpack.log" 2>&1 || { cat "$out/cpack.log"; exit 1; }
deb=$out/kctl_${version}_amd64.deb
[ -f "$deb" ] || { problem "cpack made no $(basename "$deb")"; ls "$out"; exit 1; }
printf '%s: %s bytes, built in %.1f s\n' "$(basename "$deb")" "$(stat -c %s "$deb")" "$(echo "$(date +%s.%N) - $start" | bc)"

contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/bin/kctl ./usr/bin/kctl-local ./usr/bin/kctl-apiserver ./usr/bin/kctl-scheduler \
         ./usr/bin/kctl-controller-manager ./usr/bin/kctl-kubelet ./usr/bin/kctl-shim ./usr/bin/kctl-proxy \
         ./usr/bin/kctl-dns ./usr/lib/systemd/system/kctl-apiserver.service \
         ./usr/lib/systemd/system/kctl-scheduler.service ./usr/lib/systemd/system/kctl-controller-manager.service \
         ./usr/lib/systemd/system/kctl-kubelet.service ./usr/lib/systemd/system/kctl-proxy.service \
         ./usr/lib/systemd/system/kctl-dns.service ./usr/lib/systemd/system/kctl-master.target \
         ./usr/lib/systemd/system/kctl-worker.target ./usr/share/dbus-1/system.d/org.kctl.conf \
         ./usr/lib/tmpfiles.d/kctl.conf ./etc/kctl/kubelet.yaml ./usr/share/kctl/examples/10-web.yaml \
         ./usr/share/man/man1/kctl.1.gz ./usr/share/man/man8/kctl-kubelet.8.gz; do
  grep -qxF "$f" <<<"$contents" || problem "$f is not in the package"
done
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for p in libsystemd0 libsdbus-c++1 libsqlite3-0 libmnl0 libnftnl11 libyaml-cpp0.7 libssl3 systemd-container nftables \
         dbus; do
  tr ',' '\n' <<<"$depends" | awk '{print $1}' | grep -qxF "$p" || problem "Depends lacks $p"
done
dpkg-deb -e "$deb" "$out/control"
for daemon in apiserver scheduler controller-manager kubelet proxy dns; do
  grep -qxF "/etc/kctl/$daemon.yaml" "$out/control/conffiles" || problem "/etc/kctl/$daemon.yaml is not a conffile"
done
# Every binary of the package starts (its libraries resolve) and is stripped.
dpkg-deb -x "$deb" "$out/root"
for b in "$out"/root/usr/bin/*; do
  "$b" --help >/dev/null 2>&1 || [ "$(basename "$b")" = kctl-shim ] || problem "$(basename "$b") --help fails"
  readelf -S "$b" | grep -q "\.debug_info" && problem "$(basename "$b") is not stripped"
done

[ $fail = 0 ] && echo "PASS: the .deb holds the programs, units, policy, tmpfiles.d entry and conffiles"
exit $fail
