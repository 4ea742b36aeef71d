#!/usr/bin/env bash
# Builds the master and worker node images (scripts/build-images --disk, into BUILD_DIR/image-test, whose mkosi
# cache makes the second run fast) and checks inside each tree: the kctl programs (they run: their libraries are
# there), the units, the role's target enabled and the other not, the busybox image in the kubelet's store, the
# packages the issue names; and in each disk: the GPT, the ESP's boot loader, kernel and entry, the ext4 root.
# Usage: image_test.sh BUILD_DIR          (exit 77: cannot build images here)
set -euo pipefail
build=$(cd "${1:?usage: image_test.sh BUILD_DIR}" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
. "$src/tests/image/lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: mkosi needs root"; exit 77; }
command -v mkosi >/dev/null || { echo "SKIP: mkosi is not installed (scripts/install-deps)"; exit 77; }
fail=0
problem() { echo "FAIL: $*"; fail=1; }
MB=$((1000 * 1000)); limit=$((400 * MB))

cmake --build "$build" --target deb >/dev/null
deb=$(ls "$build"/kctl_*_amd64.deb | tail -1)
out=$build/image-test
start=$SECONDS
"$src/scripts/build-images" --deb "$deb" --out "$out" --disk
echo "build-images: $((SECONDS - start)) s"
dist=$out/debian~bookworm

for role in master worker; do
  t=$dist/$role other=worker
  [ $role = worker ] && other=master
  [ -d "$t" ] || { problem "$role: no tree $t"; continue; }
  echo "== $role: $t"
  for b in kctl kctl-local kctl-apiserver kctl-scheduler kctl-controller-manager kctl-kubelet kctl-shim kctl-proxy \
           kctl-dns; do
    [ -x "$t/usr/bin/$b" ] || problem "$role: /usr/bin/$b missing"
  done
  # They run in the image: every library they need is installed.
  for b in kctl-apiserver kctl-kubelet kctl-proxy; do
    chroot "$t" "/usr/bin/$b" --help >/dev/null 2>&1 || problem "$role: $b --help fails in the image"
  done
  for u in kctl-apiserver.service kctl-scheduler.service kctl-controller-manager.service kctl-dns.service \
           kctl-kubelet.service kctl-proxy.service kctl-master.target kctl-worker.target; do
    [ -f "$t/usr/lib/systemd/system/$u" ] || problem "$role: unit $u missing"
  done
  [ -f "$t/usr/share/dbus-1/system.d/org.kctl.conf" ] || problem "$role: D-Bus policy missing"
  [ -L "$t/etc/systemd/system/multi-user.target.wants/kctl-$role.target" ] || problem "$role: kctl-$role.target not enabled"
  [ -L "$t/etc/systemd/system/multi-user.target.wants/kctl-$other.target" ] && problem "$role: kctl-$other.target enabled too"
  # The presets are applied on first boot: they must enable this role's target and disable the other's (an unnamed
  # unit is enabled by Debian's default, and the two targets conflict).
  preset=$t/usr/lib/systemd/system-preset/50-kctl-$role.preset
  grep -qx "enable kctl-$role.target" "$preset" || problem "$role: no preset enables kctl-$role.target"
  grep -qx "disable kctl-$other.target" "$preset" || problem "$role: no preset disables kctl-$other.target"
  # The master is kctl-master; each worker needs a name of its own, given on first boot.
  if [ $role = master ]; then
    [ "$(cat "$t/etc/hostname")" = kctl-master ] || problem "master: hostname is $(cat "$t/etc/hostname")"
  else
    [ -e "$t/etc/hostname" ] && problem "worker: the image names every worker $(cat "$t/etc/hostname")"
    [ -L "$t/etc/systemd/system/kctl-worker.target.wants/kctl-worker-hostname.service" ] \
      || problem "worker: kctl-worker-hostname.service not enabled"
  fi
  images=$(chroot "$t" kctl-local image list --root-dir /var/lib/kctl 2>&1) || problem "$role: kctl image list fails: $images"
  grep -q 'kctl/busybox' <<<"$images" && grep -q latest <<<"$images" || problem "$role: busybox not in the store: $images"
  ls "$t"/var/lib/kctl/images/rootfs/*/bin/busybox >/dev/null 2>&1 || problem "$role: the busybox image has no rootfs"
  for p in kctl systemd dbus nftables systemd-container iproute2 busybox-static linux-image-cloud-amd64; do
    chroot "$t" dpkg-query -W -f='${Status}' $p 2>/dev/null | grep -q 'install ok installed' \
      || problem "$role: package $p not installed"
  done
  [ -e "$t/var/cache/kctl-image" ] && problem "$role: the staged package was left in the image"
  # (-L: the links are absolute, meant for inside the tree.) Last, as it changes the tree (the disk is made already): what first boot does, with an empty machine-id.
  systemctl --root="$t" preset-all --preset-mode=enable-only >/dev/null 2>&1 || problem "$role: preset-all fails"
  [ -L "$t/etc/systemd/system/multi-user.target.wants/kctl-$role.target" ] || problem "$role: not enabled after preset-all"
  [ -L "$t/etc/systemd/system/multi-user.target.wants/kctl-$other.target" ] \
    && problem "$role: first boot's preset-all enables kctl-$other.target"
  size=$(du -s --block-size=1 --apparent-size "$t" | cut -f1)
  echo "$role tree: $((size / MB)) MB"
  [ "$size" -lt "$limit" ] || problem "$role: tree is $((size / MB)) MB, over 400 MB"

  d=$dist/$role.raw
  [ -f "$d" ] || { problem "$role: no disk $d"; continue; }
  size=$(stat -c %s "$d")
  echo "$role disk: $((size / MB)) MB"
  [ "$size" -lt "$limit" ] || problem "$role: disk is $((size / MB)) MB, over 400 MB"
  table=$(sfdisk -d "$d")
  grep -qi 'type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B' <<<"$table" || problem "$role: no ESP in $table"
  grep -qi 'type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709' <<<"$table" || problem "$role: no x86-64 root in $table"
  # The partitions, read straight from the disk at their offsets (nothing mounted).
  esp_start=$(partition "$d" 1 start)
  root_start=$(partition "$d" 2 start)
  export MTOOLS_SKIP_CHECK=1
  for f in /EFI/BOOT/BOOTX64.EFI /kctl/vmlinuz /kctl/initrd /loader/loader.conf /loader/entries/kctl.conf; do
    mdir -b -i "$d@@$((esp_start * 512))" "::$f" >/dev/null 2>&1 || problem "$role: ESP has no $f"
  done
  entry=$(mtype -i "$d@@$((esp_start * 512))" ::/loader/entries/kctl.conf)
  root_uuid=$(sfdisk --part-uuid "$d" 2)
  grep -qi "root=PARTUUID=$root_uuid" <<<"$entry" || problem "$role: the loader entry does not name the root: $entry"
  rootimg=$(mktemp /tmp/kctl-image-root.XXXXXX)
  dd if="$d" of="$rootimg" bs=512 skip="$root_start" count="$(partition "$d" 2 size)" status=none
  e2fsck -fn "$rootimg" >/dev/null 2>&1 || problem "$role: the root file system does not check clean"
  for f in /usr/bin/kctl-kubelet /etc/systemd/system/multi-user.target.wants/kctl-$role.target /var/lib/kctl/images/index.json; do
    debugfs -R "stat $f" "$rootimg" 2>/dev/null | grep -q 'Inode:' || problem "$role: the root file system has no $f"
  done
  rm -f "$rootimg"
done
[ "$fail" = 0 ] && echo "image test: OK"
exit "$fail"
