#!/usr/bin/env bash
# Boots the master disk made by image.trees (BUILD_DIR/image-test/debian~bookworm/master.raw) under qemu (TCG,
# UEFI with OVMF) on a scratch copy grown to 2 GiB, as a user prepares one: /etc/kctl/join.conf with the bootstrap
# token written onto its root file system before the first boot. Checks that systemd-boot starts the kernel, the root
# partition and file system grow to the disk, the apiserver answers /readyz on its HTTPS port (forwarded to this
# host), the master's node is Ready (read with that token, which kubeadm's policy lets read nodes) and no unit
# failed on the way.
# (systemd's status lines on the serial console stop once the serial getty starts: the console does not show when
# the daemons after the apiserver are up; the API does.)
# Usage: [KCTL_QEMU_KVM=1] qemu_boot_test.sh BUILD_DIR          (exit 77: no disk, no qemu or no OVMF)
set -euo pipefail
build=$(cd "${1:?usage: qemu_boot_test.sh BUILD_DIR}" && pwd)
disk=$build/image-test/debian~bookworm/master.raw
code=/usr/share/OVMF/OVMF_CODE_4M.fd vars=/usr/share/OVMF/OVMF_VARS_4M.fd
[ -f "$disk" ] || { echo "SKIP: no $disk (run image.trees first)"; exit 77; }
command -v qemu-system-x86_64 >/dev/null && [ -f "$code" ] || { echo "SKIP: qemu-system-x86 or ovmf missing"; exit 77; }
# Under TCG the boot takes 30-40 s; the limit leaves room for a loaded machine.
limit=${KCTL_QEMU_BOOT_TIMEOUT:-300}

work=$(mktemp -d /tmp/kctl-qemu-boot.XXXXXX)
port=$((20000 + $$ % 20000))  # the guest's 6443 on this host
qemu_pid=
cleanup() { [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null && wait "$qemu_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cp --sparse=always "$disk" "$work/disk.raw"
cp "$vars" "$work/vars.fd"

# The token, into the root file system (the GPT's second partition) without mounting it: out, debugfs, back in.
hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
token=$(hex 3).$(hex 8)
read -r root_start root_size < <(sfdisk -J "$work/disk.raw" | python3 -c '
import json, sys
p = json.load(sys.stdin)["partitiontable"]["partitions"][1]
print(p["start"], p["size"])')
dd if="$work/disk.raw" of="$work/root.img" bs=512 skip="$root_start" count="$root_size" conv=sparse status=none
printf 'KCTL_TOKEN=%s\n' "$token" >"$work/join.conf"
debugfs -w -R "write $work/join.conf /etc/kctl/join.conf" "$work/root.img" >/dev/null 2>&1
debugfs -R "cat /etc/kctl/join.conf" "$work/root.img" 2>/dev/null | grep -q "$token" ||
  { echo "FAIL: could not write /etc/kctl/join.conf onto the root file system"; exit 1; }
dd if="$work/root.img" of="$work/disk.raw" bs=512 seek="$root_start" conv=notrunc,sparse status=none
rm "$work/root.img"
truncate -s 2G "$work/disk.raw"

# TCG unless asked: here /dev/kvm exists but the CPU offers no virtualization to this machine.
accel=(-accel tcg -cpu max)
[ "${KCTL_QEMU_KVM:-0}" = 1 ] && accel=(-accel kvm -cpu host)
# virtio-rng: the guest's first-boot keys (the cluster CA, serving and client certificates) want entropy early.
qemu-system-x86_64 -machine q35 "${accel[@]}" -smp 2 -m 2048 -display none -monitor none \
  -serial "file:$work/serial.log" \
  -drive "if=pflash,format=raw,readonly=on,file=$code" -drive "if=pflash,format=raw,file=$work/vars.fd" \
  -drive "if=virtio,format=raw,file=$work/disk.raw" \
  -nic "user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:$port-:6443" -device virtio-rng-pci &
qemu_pid=$!
start=$SECONDS
console() { sed 's/\x1b\[[0-9;]*m//g' "$work/serial.log" 2>/dev/null; }
api() { curl -sk --max-time 5 "$@"; }
alive() { kill -0 "$qemu_pid" 2>/dev/null || { echo "FAIL: qemu exited"; console | tail -40; exit 1; }; }
in_time() {
  [ $((SECONDS - start)) -lt "$limit" ] || { echo "FAIL: $1 after $limit s"; console | tail -60; exit 1; }
}

until [ "$(api "https://127.0.0.1:$port/readyz" || true)" = ok ]; do
  alive; in_time "the apiserver does not answer /readyz on the forwarded port"
  sleep 1
done
echo "the apiserver answers /readyz $((SECONDS - start)) s after power-on (${accel[1]})"
node=
ready() {
  node=$(api -H "Authorization: Bearer $token" "https://127.0.0.1:$port/api/v1/nodes/kctl-master" || true)
  python3 -c '
import json, sys
n = json.loads(sys.argv[1])
sys.exit(0 if any(c["type"] == "Ready" and c["status"] == "True" for c in n.get("status", {}).get("conditions", [])) else 1)
' "$node" 2>/dev/null
}
until ready; do
  alive; in_time "node kctl-master is not Ready (last answer: $node)"
  sleep 1
done
echo "node kctl-master Ready $((SECONDS - start)) s after power-on (${accel[1]})"
fail=0
out=$(console)
grep -a -E "kctl-|FAILED" <<<"$out" | grep -av "Command line" || true
grep -aq "FAILED" <<<"$out" && { echo "FAIL: a unit failed to start"; fail=1; }
grep -aq "EXT4-fs (vda2): resized filesystem" <<<"$out" || { echo "FAIL: the root file system did not grow"; fail=1; }
[ "$fail" = 0 ] && echo "qemu boot test: OK"
exit "$fail"
