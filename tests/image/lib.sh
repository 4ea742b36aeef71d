# Shared by the image tests (sourced).

# FIELD (start, size: in 512-byte sectors) of partition N (1-based) of the GPT disk image DISK.
partition() {
  sfdisk -J "$1" | python3 -c '
import json, sys
print(json.load(sys.stdin)["partitiontable"]["partitions"][int(sys.argv[1]) - 1][sys.argv[2]])' "$2" "$3"
}

# A random bootstrap token, of kubeadm's form [a-z0-9]{6}.[a-z0-9]{16}.
bootstrap_token() {
  local hex="od -An -tx1 /dev/urandom"
  echo "$($hex -N3 | tr -d ' \n').$($hex -N8 | tr -d ' \n')"
}
