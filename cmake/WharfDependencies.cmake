# Finds wharf's dependencies; a missing one stops configuration with the Debian
# package that provides it.

macro(wharf_require name package)
  if(NOT ${name}_FOUND)
    message(FATAL_ERROR
      "wharf needs ${name}, which was not found.\n"
      "On Debian 12 install it with:  apt-get install ${package}\n"
      "(or run scripts/install-deps.sh, which installs everything wharf needs)")
  endif()
endmacro()

find_package(Threads REQUIRED)
find_package(Boost 1.81 CONFIG QUIET)
wharf_require(Boost libboost1.81-dev)
find_package(OpenSSL 3 QUIET)
wharf_require(OpenSSL libssl-dev)
find_package(ZLIB QUIET)
wharf_require(ZLIB zlib1g-dev)
find_package(fmt CONFIG QUIET)
wharf_require(fmt libfmt-dev)
# RESP parsing of the Redis broker (framework/src/broker/): hiredis's redisReader.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(HIREDIS QUIET IMPORTED_TARGET hiredis)
endif()
wharf_require(HIREDIS libhiredis-dev)
