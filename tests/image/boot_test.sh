#!/usr/bin/env bash
# The node images booted: builds the master and worker trees (scripts/build-images into BUILD_DIR/image-test, whose
# mkosi cache makes a second run fast), boots a copy of each with `systemd-nspawn -b` (real systemd as PID 1) in a
# network namespace of its own, the two linked by a bridge on this host, and checks what a user sees:
#  - the master's first boot makes its PKI and the bootstrap token of its /etc/kctl/join.conf
#    (/var/lib/kctl/join-command); two workers join (kctl-join.service), one from its kernel command line, one from
#    the system credential kctl.join, and are Ready in `kctl get nodes`;
#  - the seed's RC and NodePort Service (examples/40-mypods.yaml) run on both nodes: a pod on the worker reaches
#    pods on both nodes through the Service's name, and the NodePort answers on both nodes' addresses;
#  - inside each node: no failed unit, `systemctl status` shows each daemon's STATUS line, `busctl` the daemons'
#    objects, `machinectl list` and `systemctl list-units 'kctl-pod-*'` the pods' containers, `journalctl` the
#    kubelet's structured fields;
#  - `systemctl restart kctl-kubelet` on the worker leaves its pods' containers running (same processes).
# Prints the boot times (nspawn start to is-system-running, and to the worker Ready).
# Usage: boot_test.sh BUILD_DIR     (exit 77, with the reason, only when the trees cannot be built here at all)
set -euo pipefail
build=$(cd "${1:?usage: boot_test.sh BUILD_DIR}" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
. "$src/tests/image/lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: booting the images needs root"; exit 77; }
command -v mkosi >/dev/null || { echo "SKIP: mkosi is not installed (scripts/install-deps)"; exit 77; }
command -v systemd-nspawn >/dev/null || { echo "SKIP: systemd-nspawn is not installed (scripts/install-deps)"; exit 77; }
out=$build/image-test
dist=$out/debian~bookworm
# mkosi fetches the packages from the Debian archive unless its cache has them already.
if [ ! -d "$dist/kctl-node.cache-pre-inst" ] &&
   ! curl -sfI --max-time 20 http://deb.debian.org/debian/dists/bookworm/Release >/dev/null; then
  echo "SKIP: the Debian archive (deb.debian.org) is out of reach and there is no mkosi cache in $out"
  exit 77
fi
fail=0
problem() { echo "FAIL: $*"; fail=1; }
now() { date +%s.%N; }
since() { printf '%.1f' "$(echo "$(now) - $1" | bc)"; }

start=$SECONDS
cmake --build "$build" --target deb >/dev/null
deb=$(ls "$build"/kctl_*_amd64.deb | tail -1)
"$src/scripts/build-images" --deb "$deb" --out "$out" >"$out.log" 2>&1 || {
  tail -40 "$out.log"; echo "FAIL: scripts/build-images (log: $out.log)"; exit 1; }
echo "build-images (trees): $((SECONDS - start)) s"

# Names of this run: the host's bridge, the nodes' namespaces and cgroups, the copies of the trees.
id=$$
bridge=kctlbt$((id % 100000))
subnet=10.251.$((id % 200 + 20))
master_ip=$subnet.2
work=$out/boot-$id
token=$(bootstrap_token)
declare -A nspawn_pid leader
nodes=()
cgroup_hierarchies=(/sys/fs/cgroup/systemd /sys/fs/cgroup/unified)

cleanup() {
  local n h
  for n in "${!nspawn_pid[@]}"; do kill "${nspawn_pid[$n]}" 2>/dev/null || true; done  # nspawn powers off
  for n in "${!nspawn_pid[@]}"; do
    for _ in $(seq 100); do kill -0 "${nspawn_pid[$n]}" 2>/dev/null || break; sleep 0.1; done
    kill -9 "${nspawn_pid[$n]}" 2>/dev/null || true
  done
  for n in "${nodes[@]}"; do
    ip netns del "kctlbt-$id-$n" 2>/dev/null || true
    for h in "${cgroup_hierarchies[@]}"; do
      [ -d "$h/kctl-boot-test-$id-$n" ] && find "$h/kctl-boot-test-$id-$n" -depth -type d -exec rmdir {} + 2>/dev/null
    done
  done
  ip link del "$bridge" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ip link add "$bridge" type bridge
ip addr add "$subnet.1/24" dev "$bridge"
ip link set "$bridge" up

# Boots a copy of the ROLE tree as node NAME at ADDRESS (a static address through systemd-networkd, as a user gives
# one), with JOIN_CONF (if not empty) as its /etc/kctl/join.conf and systemd-nspawn's further ARGS, until its
# systemd runs (booted() then waits for the boot to finish).
declare -A started
boot() {
  local name=$1 role=$2 address=$3 join_conf=$4 ns=kctlbt-$id-$1 root=$work/$1 h
  shift 4
  nodes+=("$name")
  cp -a --reflink=auto "$dist/$role" "$root"
  [ -z "$join_conf" ] || printf '%s\n' "$join_conf" >"$root/etc/kctl/join.conf"
  mkdir -p "$root/etc/systemd/network"
  printf '[Match]\nName=eth0\n\n[Network]\nAddress=%s/24\nGateway=%s.1\nIPv6AcceptRA=no\n' "$address" "$subnet" \
    >"$root/etc/systemd/network/10-node.network"
  ip netns add "$ns"
  local veth=kbt$((id % 100000))n${#nodes[@]}
  ip link add "$veth" type veth peer name eth0 netns "$ns"
  ip link set "$veth" master "$bridge" up
  started[$name]=$(now)
  # systemd-nspawn --keep-unit runs the container in the caller's cgroup, which must be its own (platform-notes.md).
  # All capabilities: the node's kubelet and proxy manage its network (bridge, veths, routes, nftables).
  (
    for h in "${cgroup_hierarchies[@]}"; do
      [ -d "$h" ] && mkdir -p "$h/kctl-boot-test-$id-$name" && echo "$BASHPID" >"$h/kctl-boot-test-$id-$name/cgroup.procs"
    done
    exec systemd-nspawn --quiet --register=no --keep-unit -b -D "$root" --machine="$name" --capability=all \
      --network-namespace-path="/run/netns/$ns" "$@" </dev/null >"$work/$name.console" 2>&1
  ) &
  nspawn_pid[$name]=$!
  local l=
  for _ in $(seq 300); do
    for c in $(cat /proc/"${nspawn_pid[$name]}"/task/*/children 2>/dev/null); do
      [ "$(cat /proc/$c/comm 2>/dev/null)" = systemd ] && l=$c
    done
    [ -n "$l" ] && break
    sleep 0.1
  done
  [ -n "$l" ] || { echo "FAIL: $name: systemd did not start"; tail -20 "$work/$name.console"; exit 1; }
  leader[$name]=$l
}
# Waits for `systemctl is-system-running` in node NAME.
booted() {
  local name=$1 state=
  for _ in $(seq 120); do
    state=$(on "$name" timeout 60 systemctl is-system-running --wait 2>/dev/null || true)
    case "$state" in running|degraded) break ;; esac
    sleep 0.5
  done
  echo "$name: $state (is-system-running, waited for until $(since "${started[$name]}") s after systemd-nspawn started)"
  [ "$state" = running ] || problem "$name: is-system-running says '$state': $(on "$name" systemctl --failed --no-legend)"
}
# Runs a command inside a booted node (all its namespaces).
on() { local n=$1; shift; nsenter -t "${leader[$n]}" -a "$@"; }

mkdir -p "$work"
boot kctl-master master "$master_ip" "KCTL_TOKEN=$token"
booted kctl-master
join=$work/kctl-master/var/lib/kctl/join-command
for _ in $(seq 100); do [ -s "$join" ] && break; sleep 0.1; done
[ -s "$join" ] || { problem "master: no $join (kctl-bootstrap-token.service)"; on kctl-master systemctl status kctl-bootstrap-token --no-pager; exit 1; }
echo "master: $(cat "$join")"
grep -q -- "--token $token" "$join" || problem "master: the join command has not the token of join.conf"
hash=$(grep -o 'sha256:[0-9a-f]\{64\}' "$join")
admin=$work/admin.kubeconfig
cp "$work/kctl-master/var/lib/kctl/apiserver/admin.kubeconfig" "$admin"
k() { kubectl --kubeconfig "$admin" --server "https://$master_ip:6443" --request-timeout=30s "$@"; }
kctl() { "$build/bin/kctl" --kubeconfig "$admin" --server "https://$master_ip:6443" "$@"; }

# Two workers, booted together: the first finds the master, token and pin on its kernel command line (in a
# container: PID 1's arguments), the second in the system credential kctl.join (what `--set-credential` or
# `--load-credential` of systemd-nspawn, or qemu's SMBIOS credentials, give a machine). (/etc/kctl/join.conf, the
# third way, is the master's here, and the worker's in tests/integration/node_join_test.cc.)
settings="KCTL_MASTER=$master_ip:6443
KCTL_TOKEN=$token
KCTL_CA_CERT_HASH=$hash"
printf '%s\n' "$settings" >"$work/kctl.join"
boot kctl-worker-1 worker "$subnet.3" "" -- "kctl.master=$master_ip:6443" "kctl.token=$token" "kctl.ca-cert-hash=$hash"
boot kctl-worker-2 worker "$subnet.4" "" --load-credential="kctl.join:$work/kctl.join"
declare -A ready
for _ in $(seq 600); do
  for w in kctl-worker-1 kctl-worker-2; do
    [ -z "${ready[$w]:-}" ] && kctl get node "$w" 2>/dev/null | grep -q ' Ready ' && ready[$w]=$(since "${started[$w]}")
  done
  [ -n "${ready[kctl-worker-1]:-}" ] && [ -n "${ready[kctl-worker-2]:-}" ] && break
  sleep 0.1
done
for w in kctl-worker-1 kctl-worker-2; do
  [ -n "${ready[$w]:-}" ] && echo "$w: Ready ${ready[$w]} s after its systemd-nspawn started" ||
    { problem "$w is not Ready after 60 s"; kctl get nodes; on "$w" journalctl -u kctl-join -u kctl-kubelet --no-pager | tail -30; exit 1; }
  booted "$w"
done
kctl get nodes -o wide
[ "$(kctl get nodes --no-headers | grep -c ' Ready ')" = 3 ] || problem "not all three nodes Ready"
# The seed's RC and NodePort Service, over both nodes.
k apply -f "$src/examples/40-mypods.yaml" >/dev/null
k scale rc mypod --replicas=6 >/dev/null
k wait --for=condition=Ready pod -l name=mypod --timeout=120s >/dev/null || problem "the mypod pods are not Ready"
k get pods -o wide
pods_on() { k get pods -l name=mypod -o wide --no-headers | awk -v n="$1" '$7 == n {print $1}'; }
declare -A pods
for n in "${nodes[@]}"; do
  pods[$n]=$(pods_on "$n")
  [ -n "${pods[$n]}" ] || problem "no mypod pod on $n"
done
on_worker=${pods[kctl-worker-1]}
client=$(head -1 <<<"$on_worker")
# A pod on the first worker, by the Service's name (the cluster DNS on the master), until a pod on each node has
# answered: across the node network both ways, and to its own node.
answered=
answered_all() {
  local n
  for n in "${nodes[@]}"; do grep -qwF -f <(printf '%s\n' ${pods[$n]}) <<<"$answered" || return 1; done
}
for _ in $(seq 60); do
  answered+=$(k exec "$client" -- wget -qO- http://mypods/ 2>&1 || true)$'\n'
  answered_all && break
done
for n in "${nodes[@]}"; do
  grep -qwF -f <(printf '%s\n' ${pods[$n]}) <<<"$answered" ||
    problem "the Service never sent $client (on kctl-worker-1) to a pod on $n: $answered"
done
node_port=$(k get svc mypods -o jsonpath='{.spec.ports[0].nodePort}')
for ip in "$master_ip" "$subnet.3" "$subnet.4"; do
  page=$(curl -s --max-time 5 "http://$ip:$node_port/" || true)
  grep -q '^hello from mypod-' <<<"$page" && echo "NodePort $ip:$node_port: $page" ||
    problem "NodePort $ip:$node_port does not answer ($page)"
done

# What a user looks at inside each node. On the master, root's kctl needs no kubeconfig (the plain port on loopback).
inside=$(on kctl-master kctl get nodes 2>&1 || true)
[ "$(grep -c ' Ready ' <<<"$inside")" = 3 ] || problem "master: kctl get nodes inside the master: $inside"
for n in "${nodes[@]}"; do
  failed=$(on "$n" systemctl --failed --no-legend --plain)
  [ -z "$failed" ] || problem "$n: failed units: $failed"
done
status=$(on kctl-master systemctl status kctl-apiserver kctl-scheduler kctl-controller-manager kctl-dns kctl-kubelet \
           kctl-proxy --no-pager 2>&1 || true)
grep -E '^\S+ kctl-|Status:' <<<"$status"
for s in 'serving [0-9]+ objects' '[0-9]+ pods pending' 'Running [0-9]+ controllers' '[0-9]+ services' \
         '[0-9]+ pods .* on node kctl-master, Ready' '[0-9]+ Services, [0-9]+ endpoints'; do
  grep -qE "Status: \".*$s" <<<"$status" || problem "master: no STATUS line like '$s' in systemctl status"
done
status=$(on kctl-worker-1 systemctl status kctl-kubelet kctl-proxy --no-pager 2>&1 || true)
grep -qE 'Status: ".*pods \(.*Running\) on node kctl-worker-1, Ready' <<<"$status" ||
  problem "worker: the kubelet's STATUS does not say its pods: $(grep Status: <<<"$status")"
for name in org.kctl.ApiServer1 org.kctl.Scheduler1 org.kctl.ControllerManager1 org.kctl.Kubelet1 org.kctl.Proxy1; do
  on kctl-master busctl tree "$name" --no-pager 2>/dev/null | grep -q /org/kctl || problem "master: busctl tree $name"
done
for name in org.kctl.Kubelet1 org.kctl.Proxy1; do
  on kctl-worker-1 busctl tree "$name" --no-pager 2>/dev/null | grep -q /org/kctl || problem "worker: busctl tree $name"
done
pods_units=$(on kctl-worker-1 systemctl list-units 'kctl-pod-*' --no-legend --plain)
machines=$(on kctl-worker-1 machinectl list --no-legend)
for p in $on_worker; do
  grep -q "kctl-pod-default_${p}_httpd_0.service .*running" <<<"$pods_units" || problem "worker: no running unit for $p: $pods_units"
  grep -q "^$p-httpd-" <<<"$machines" || problem "worker: machinectl list has no $p: $machines"
  on kctl-worker-1 journalctl -u kctl-kubelet OBJECT_KIND=Pod OBJECT_NAME="$p" -o cat --no-pager | grep -q . ||
    problem "worker: journalctl -u kctl-kubelet has no entry with OBJECT_NAME=$p"
done
echo "worker: $(wc -l <<<"$pods_units") pod containers as units, $(wc -l <<<"$machines") machines"

# A kubelet restart leaves the pods' containers running: the same processes before and after.
pids() { on kctl-worker-1 systemctl show -p MainPID --value "kctl-pod-*" | sort | tr '\n' ' '; }
before=$(pids)
on kctl-worker-1 systemctl restart kctl-kubelet
on kctl-worker-1 systemctl is-active -q kctl-kubelet || problem "worker: the kubelet is not active after a restart"
after=$(pids)
[ "$before" = "$after" ] && [ -n "${before// /}" ] || problem "worker: the containers changed over a kubelet restart: $before / $after"
sleep 3  # a few of the kubelet's syncs: it adopts them and must not restart them
[ "$(pids)" = "$before" ] || problem "worker: the restarted kubelet replaced its containers: $before / $(pids)"
restarts=$(k get pods -l name=mypod -o jsonpath='{range .items[*]}{.status.containerStatuses[0].restartCount}{" "}{end}')
[ -z "${restarts//0 /}" ] || problem "container restarts after the kubelet restart: $restarts"
page=$(k exec "$client" -- wget -qO- http://mypods/ 2>&1 || true)
grep -q '^hello from mypod-' <<<"$page" || problem "the worker's pod cannot reach the Service after the restart: $page"

[ "$fail" = 0 ] && echo "boot test: OK"
exit "$fail"
