# Writes OUT, a C++ file holding every api/schema/*.schema file as a string literal (see api/schema.cc).
file(GLOB files "${SRC}/*.schema")
list(SORT files)
set(body "")
foreach(f ${files})
  file(READ "${f}" text)
  get_filename_component(name "${f}" NAME)
  string(APPEND body "      {\"${name}\", R\"kctl_schema(${text})kctl_schema\"},\n")
endforeach()
file(WRITE "${OUT}.tmp" "// Generated from api/schema/*.schema by api/embed_schema.cmake; do not edit.
#include <string>
#include <utility>
#include <vector>
namespace kctl::api {
const std::vector<std::pair<std::string, std::string>>& builtin_schema_files() {
  static const std::vector<std::pair<std::string, std::string>> files = {
${body}  };
  return files;
}
}  // namespace kctl::api
")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUT}.tmp" "${OUT}")
