// kctl-shim: the per-container shim process of the kubelet's nspawn runtime (see container_shim.h).
#include "daemons/kubelet/container_shim.h"

int main(int argc, char** argv) { return kctl::kubelet::shim_main(argc - 1, argv + 1); }
