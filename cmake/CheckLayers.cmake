# Fails when a file of framework/src includes a private header of a layer above its own.
# Run by the build (framework/CMakeLists.txt, target wharf_layering) with:
#   WHARF_SRC              framework/src
#   WHARF_LAYERS           the layers, bottom to top, comma-separated
#   WHARF_LAYER_<layer>    that layer's files, relative to WHARF_SRC, comma-separated
#   WHARF_LAYER_EXCEPTIONS "file>included" pairs that are known and allowed, comma-separated
cmake_policy(VERSION 3.25)
string(REPLACE "," ";" layers "${WHARF_LAYERS}")
string(REPLACE "," ";" exceptions "${WHARF_LAYER_EXCEPTIONS}")

set(rank 0)
foreach(layer IN LISTS layers)
  string(REPLACE "," ";" files "${WHARF_LAYER_${layer}}")
  foreach(file IN LISTS files)
    set("rank_of_${file}" ${rank})
    set("layer_of_${file}" ${layer})
  endforeach()
  list(APPEND all_files ${files})
  math(EXPR rank "${rank} + 1")
endforeach()

set(problems)
set(used_exceptions)
foreach(file IN LISTS all_files)
  file(STRINGS "${WHARF_SRC}/${file}" includes REGEX "^[ \t]*#[ \t]*include[ \t]*\"[^\"]+\"")
  foreach(line IN LISTS includes)
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([^\"]+)\".*" "\\1" included "${line}")
    if(NOT DEFINED "rank_of_${included}")
      continue()  # not a private header of the library (a test's, or a missing one the compiler reports)
    endif()
    if(${rank_of_${included}} GREATER ${rank_of_${file}})
      if("${file}>${included}" IN_LIST exceptions)
        list(APPEND used_exceptions "${file}>${included}")
      else()
        list(APPEND problems
             "  framework/src/${file} (layer ${layer_of_${file}}) includes ${included} (layer ${layer_of_${included}})")
      endif()
    endif()
  endforeach()
endforeach()

foreach(exception IN LISTS exceptions)
  if(NOT exception IN_LIST used_exceptions)
    list(APPEND problems "  the exception \"${exception}\" no longer occurs: remove it from WHARF_LAYER_EXCEPTIONS")
  endif()
endforeach()

if(problems)
  string(JOIN "\n" text ${problems})
  message(FATAL_ERROR "wharf's layers (${WHARF_LAYERS}, bottom to top) may include only their own "
                      "and lower layers' headers (docs/architecture.md, \"Layers\"):\n${text}")
endif()
