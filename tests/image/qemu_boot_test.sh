#!/usr/bin/env bash
# Boots the master disk made by image.trees (BUILD_DIR/image-test/debian~bookworm/master.raw) under qemu (TCG,
# UEFI with OVMF) on a scratch copy grown to 2 GiB, and reads the serial console: systemd-boot starts the kernel,
# the root partition and file system grow to the disk, kctl-master.target starts the daemons (none fails), and the
# apiserver answers /readyz on its HTTPS port, forwarded to this host.
# Usage: [KCTL_QEMU_KVM=1] qemu_boot_test.sh BUILD_DIR          (exit 77: no disk, no qemu or no OVMF)
set -euo pipefail
build=$(cd "${1:?usage: qemu_boot_test.sh BUILD_DIR}" && pwd)
disk=$build/image-test/debian~bookworm/master.raw
code=/usr/share/OVMF/OVMF_CODE_4M.fd vars=/usr/share/OVMF/OVMF_VARS_4M.fd
[ -f "$disk" ] || { echo "SKIP: no $disk (run image.trees first)"; exit 77; }
command -v qemu-system-x86_64 >/dev/null && [ -f "$code" ] || { echo "SKIP: qemu-system-x86 or ovmf missing"; exit 77; }
# Under TCG the boot takes about a minute; the limit leaves room for a loaded machine.
limit=${KCTL_QEMU_BOOT_TIMEOUT:-300}

work=$(mktemp -d /tmp/kctl-qemu-boot.XXXXXX)
port=$((20000 + $$ % 20000))  # the guest's 6443 on this host
qemu_pid=
cleanup() { [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null && wait "$qemu_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cp --sparse=always "$disk" "$work/disk.raw" && truncate -s 2G "$work/disk.raw"
cp "$vars" "$work/vars.fd"
# TCG unless asked: here /dev/kvm exists but qemu aborts with -accel kvm -cpu host (nested: "failed to set MSR").
accel=(-accel tcg -cpu max)
[ "${KCTL_QEMU_KVM:-0}" = 1 ] && accel=(-accel kvm -cpu host)
qemu-system-x86_64 -machine q35 "${accel[@]}" -smp 2 -m 2048 -display none -monitor none \
  -serial "file:$work/serial.log" \
  -drive "if=pflash,format=raw,readonly=on,file=$code" -drive "if=pflash,format=raw,file=$work/vars.fd" \
  -drive "if=virtio,format=raw,file=$work/disk.raw" -nic "user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:$port-:6443" -device virtio-rng-pci &
# virtio-rng: without an entropy source a TCG guest can take minutes to initialise its RNG, and the apiserver
# (keys, tokens) waits for it: one run in three never got past "Starting kctl-apiserver" in 300 s.
qemu_pid=$!
start=$SECONDS
console() { sed 's/\x1b\[[0-9;]*m//g' "$work/serial.log" 2>/dev/null; }
# systemd shortens the unit names on the console to its width ("Reached target kctl-master…"): match the prefix.
# (Read into a variable first: grep -q leaves sed a broken pipe, which pipefail would count as no match.)
# The role's daemons have started once kctl-master.target is reached (it wants them all; one that failed shows as
# FAILED on the console); then the apiserver must answer on its HTTPS port, forwarded to this host.
until out=$(console) && grep -aq "Reached target kctl-master" <<<"$out"; do
  kill -0 "$qemu_pid" 2>/dev/null || { echo "FAIL: qemu exited"; console | tail -40; exit 1; }
  [ $((SECONDS - start)) -lt "$limit" ] || { echo "FAIL: kctl-master.target not reached after $limit s"; console | tail -60; exit 1; }
  sleep 1  # the console is a file qemu appends to: nothing to wait on but its growth
done
echo "kctl-master.target reached $((SECONDS - start)) s after power-on (${accel[1]})"
fail=0
grep -a -E "kctl-|FAILED" <<<"$out" | grep -av "Command line" || true
grep -aq "FAILED" <<<"$out" && { echo "FAIL: a unit failed to start"; fail=1; }
grep -aq "EXT4-fs (vda2): resized filesystem" <<<"$out" || { echo "FAIL: the root file system did not grow"; fail=1; }
ready=
for _ in $(seq 60); do
  ready=$(curl -sk --max-time 5 "https://127.0.0.1:$port/readyz" || true)
  [ "$ready" = ok ] && break
  sleep 1
done
[ "$ready" = ok ] && echo "https://127.0.0.1:$port/readyz (the guest's 6443): ok, $((SECONDS - start)) s after power-on" ||
  { echo "FAIL: the apiserver does not answer on the forwarded port: '$ready'"; fail=1; }
[ "$fail" = 0 ] && echo "qemu boot test: OK"
exit "$fail"
