# Generates the sdbus-c++ adaptor and proxy of one D-Bus interface (cmake -P, at build time), then renames the
# C++ accessors of properties that share their name with a method (org.kctl.ApiServer1 has both a Version method
# and a Version property): xml2cpp would declare both as Name(), which cannot compile; the property becomes
# NameProperty(). Inputs: XML2CPP, XML, ADAPTOR, PROXY, CLASHES (a list of such names).
execute_process(COMMAND ${XML2CPP} ${XML} --adaptor=${ADAPTOR}.tmp --proxy=${PROXY}.tmp
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "sdbus-c++-xml2cpp failed on ${XML}")
endif()
file(READ ${ADAPTOR}.tmp adaptor)
file(READ ${PROXY}.tmp proxy)

# Replaces `from` by `to` in `var`, failing the build when xml2cpp's output no longer looks as expected.
macro(replace_once var from to)
  string(FIND "${${var}}" "${from}" at REVERSE)
  if(at EQUAL -1)
    message(FATAL_ERROR "generate.cmake: \"${from}\" not found in the output of sdbus-c++-xml2cpp for ${XML}")
  endif()
  string(LENGTH "${from}" len)
  string(SUBSTRING "${${var}}" 0 ${at} head)
  math(EXPR rest_at "${at} + ${len}")
  string(SUBSTRING "${${var}}" ${rest_at} -1 tail)
  set(${var} "${head}${to}${tail}")
endmacro()

foreach(name IN LISTS CLASHES)
  # adaptor: the getter registration, and the last (property) declaration of the pure virtual accessor
  replace_once(adaptor "withGetter([this](){ return this->${name}(); })" "withGetter([this](){ return this->${name}Property(); })")
  replace_once(adaptor " ${name}() = 0;" " ${name}Property() = 0;")
  # proxy: the property accessor (the method comes first)
  replace_once(proxy " ${name}()\n    {\n        return proxy_.getProperty(\"${name}\")"
               " ${name}Property()\n    {\n        return proxy_.getProperty(\"${name}\")")
endforeach()
file(WRITE ${ADAPTOR} "${adaptor}")
file(WRITE ${PROXY} "${proxy}")
file(REMOVE ${ADAPTOR}.tmp ${PROXY}.tmp)
