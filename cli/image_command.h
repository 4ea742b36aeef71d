// `kctl image ...` on a node: the kubelet's image store.
#pragma once

#include <string>
#include <vector>

namespace kctl::cli {

// argv: what follows "image". Returns the exit code.
int image_command(const std::vector<std::string>& argv);

}  // namespace kctl::cli
