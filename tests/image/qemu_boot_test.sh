#!/usr/bin/env bash
# Boots the disks made by image.trees (BUILD_DIR/image-test/debian~bookworm/{master,worker}.raw) under qemu (TCG),
# each on a scratch copy grown to 2 GiB, the two VMs linked by a second network (qemu's socket netdev):
#  - the master by UEFI (OVMF, systemd-boot), prepared as a user would, by writing onto its root file system before
#    the first boot (debugfs, nothing mounted): /etc/kctl/join.conf with the bootstrap token, a static address for
#    the link to the worker and that address as the apiserver's advertise-address. Checked: the root partition and
#    file system grow to the disk, the apiserver answers /readyz on its HTTPS port (forwarded to this host), the
#    master's node is Ready (read with the token, which kubeadm's policy lets get nodes), no unit failed;
#  - then a worker from the worker disk (its address on the link written onto it the same way), its kernel started
#    by qemu with the join settings on the kernel command line (kctl.master=, kctl.token=, kctl.ca-cert-hash= with
#    the pin of the CA the master published in cluster-info) and its name (systemd.hostname=): it joins and its node
#    is Ready.
# The worker's journal goes to its console (systemd.journald.forward_to_console=1), printed when it fails.
# Prints the times from power-on. (systemd's status lines on the serial console stop once the serial getty starts:
# the console does not show when the daemons after the apiserver are up; the API does.)
# Usage: [KCTL_QEMU_KVM=1] qemu_boot_test.sh BUILD_DIR          (exit 77: no disks, no qemu or no OVMF)
set -euo pipefail
build=$(cd "${1:?usage: qemu_boot_test.sh BUILD_DIR}" && pwd)
. "$(dirname "$0")/lib.sh"
dist=$build/image-test/debian~bookworm
code=/usr/share/OVMF/OVMF_CODE_4M.fd vars=/usr/share/OVMF/OVMF_VARS_4M.fd
[ -f "$dist/master.raw" ] && [ -f "$dist/worker.raw" ] || { echo "SKIP: no disks in $dist (run image.trees first)"; exit 77; }
command -v qemu-system-x86_64 >/dev/null && [ -f "$code" ] || { echo "SKIP: qemu-system-x86 or ovmf missing"; exit 77; }
# Under TCG a boot takes 30-40 s alone; the limit leaves room for a loaded machine.
limit=${KCTL_QEMU_BOOT_TIMEOUT:-300}

work=$(mktemp -d /tmp/kctl-qemu-boot.XXXXXX)
port=$((20000 + $$ % 20000))       # the master's 6443 on this host
link_port=$((port + 1))            # the VMs' link (qemu socket netdev)
master_ip=10.77.0.2 worker_ip=10.77.0.3
declare -A qemu_pid
cleanup() {
  local p
  for p in "${qemu_pid[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
fail=0
problem() { echo "FAIL: $*"; fail=1; }
# TCG unless asked: here /dev/kvm exists but the CPU offers no virtualization to this machine.
accel=(-accel tcg -cpu max)
[ "${KCTL_QEMU_KVM:-0}" = 1 ] && accel=(-accel kvm -cpu host)

# The scratch copy of ROLE's disk, with FILE=CONTENT pairs written onto its root file system (the GPT's second
# partition): out, debugfs, back in.
prepare() {
  local role=$1 disk=$work/$1.raw root_start root_size
  shift
  cp --sparse=always "$dist/$role.raw" "$disk"
  root_start=$(partition "$disk" 2 start)
  root_size=$(partition "$disk" 2 size)
  dd if="$disk" of="$work/root.img" bs=512 skip="$root_start" count="$root_size" conv=sparse status=none
  while [ $# -gt 0 ]; do
    printf '%s\n' "$2" >"$work/file"
    debugfs -w -R "rm $1" "$work/root.img" >/dev/null 2>&1 || true
    debugfs -w -R "write $work/file $1" "$work/root.img" >/dev/null 2>&1
    debugfs -R "cat $1" "$work/root.img" 2>/dev/null | grep -qF "$2" || { echo "FAIL: could not write $1 onto $role's root"; exit 1; }
    shift 2
  done
  dd if="$work/root.img" of="$disk" bs=512 seek="$root_start" conv=notrunc,sparse status=none
  rm "$work/root.img"
  truncate -s 2G "$disk"
}
# Starts a VM: NAME, then qemu's arguments for its disk, boot and networks. virtio-rng: the first boot makes keys.
vm() {
  local name=$1
  shift
  qemu-system-x86_64 -machine q35 "${accel[@]}" -smp 2 -m 2048 -display none -monitor none \
    -serial "file:$work/$name.log" "$@" -device virtio-rng-pci &
  qemu_pid[$name]=$!
}
console() { sed 's/\x1b\[[0-9;]*m//g' "$work/$1.log" 2>/dev/null; }
api() { curl -sk --max-time 5 "$@"; }
# Waits until COMMAND succeeds, for VM NAME (alive, within the limit), saying WHAT on failure.
wait_for() {
  local name=$1 what=$2
  shift 2
  until "$@"; do
    kill -0 "${qemu_pid[$name]}" 2>/dev/null || { echo "FAIL: $name: qemu exited"; console "$name" | tail -40; exit 1; }
    [ $((SECONDS - start)) -lt "$limit" ] ||
      { echo "FAIL: $name: $what after $limit s (last answer: ${node:-none})"; console "$name" | tail -60; exit 1; }
    sleep 1
  done
}
node=
node_ready() {
  node=$(api -H "Authorization: Bearer $token" "https://127.0.0.1:$port/api/v1/nodes/$1" || true)
  python3 -c '
import json, sys
n = json.loads(sys.argv[1])
sys.exit(0 if any(c["type"] == "Ready" and c["status"] == "True" for c in n.get("status", {}).get("conditions", [])) else 1)
' "$node" 2>/dev/null
}
readyz() { [ "$(api "https://127.0.0.1:$port/readyz" || true)" = ok ]; }

token=$(bootstrap_token)
# The master has two networks: the one this host reaches it by (qemu's user network, DHCP) and the link to the
# worker, which is where it tells nodes to find it (advertise-address, published in cluster-info).
prepare master /etc/kctl/join.conf "KCTL_TOKEN=$token" \
  /etc/kctl/apiserver.yaml "$(cat "$dist/master/etc/kctl/apiserver.yaml"; echo "advertise-address: $master_ip")" \
  /etc/systemd/network/10-nodes.network \
  "$(printf '[Match]\nName=enp0s3\n\n[Network]\nAddress=%s/24\nIPv6AcceptRA=no' "$master_ip")"
cp "$vars" "$work/vars.fd"
start=$SECONDS
vm master -drive "if=pflash,format=raw,readonly=on,file=$code" -drive "if=pflash,format=raw,file=$work/vars.fd" \
  -drive "if=virtio,format=raw,file=$work/master.raw" \
  -nic "user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:$port-:6443" \
  -netdev "socket,id=nodes,listen=127.0.0.1:$link_port" -device virtio-net-pci,netdev=nodes,addr=0x3
wait_for master "the apiserver does not answer /readyz on the forwarded port" readyz
echo "master: the apiserver answers /readyz $((SECONDS - start)) s after power-on (${accel[1]})"
wait_for master "node kctl-master is not Ready" node_ready kctl-master
echo "master: node kctl-master Ready $((SECONDS - start)) s after power-on"
out=$(console master)
grep -a -E "kctl-|FAILED" <<<"$out" | grep -av "Command line" || true
grep -aq "FAILED" <<<"$out" && problem "master: a unit failed to start"
grep -aq "EXT4-fs (vda2): resized filesystem" <<<"$out" || problem "master: the root file system did not grow"

# The pin of the CA the master published (kube-public/cluster-info, readable without credentials), as kubeadm's
# --discovery-token-ca-cert-hash: the SHA-256 of its public key.
api "https://127.0.0.1:$port/api/v1/namespaces/kube-public/configmaps/cluster-info" |
  grep -o 'certificate-authority-data: [A-Za-z0-9+/=]*' | cut -d' ' -f2 | base64 -d >"$work/ca.crt"
hash=sha256:$(openssl x509 -in "$work/ca.crt" -pubkey -noout | openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1)
echo "master: CA pin $hash"

kernel=$(ls "$dist"/worker/boot/vmlinuz-* | tail -1)
initrd=$dist/initrd.img-${kernel##*/vmlinuz-}
prepare worker /etc/systemd/network/10-nodes.network \
  "$(printf '[Match]\nName=enp0s2\n\n[Network]\nAddress=%s/24\nIPv6AcceptRA=no' "$worker_ip")"
root_uuid=$(sfdisk --part-uuid "$work/worker.raw" 2 | tr 'A-Z' 'a-z')
start=$SECONDS
vm worker -kernel "$kernel" -initrd "$initrd" \
  -append "root=PARTUUID=$root_uuid rw console=ttyS0 systemd.journald.forward_to_console=1 systemd.hostname=kctl-worker-1 kctl.master=$master_ip:6443 kctl.token=$token kctl.ca-cert-hash=$hash" \
  -drive "if=virtio,format=raw,file=$work/worker.raw" \
  -netdev "socket,id=nodes,connect=127.0.0.1:$link_port" -device virtio-net-pci,netdev=nodes,addr=0x2
wait_for worker "node kctl-worker-1 is not Ready" node_ready kctl-worker-1
echo "worker: node kctl-worker-1 Ready $((SECONDS - start)) s after power-on (joined by its kernel command line)"
grep -aq "FAILED" <<<"$(console worker)" && { console worker | grep -a FAILED; problem "worker: a unit failed to start"; }

[ "$fail" = 0 ] && echo "qemu boot test: OK"
exit "$fail"
