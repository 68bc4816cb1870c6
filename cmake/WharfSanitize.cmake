# WHARF_SANITIZE builds everything under this project (library, tests, samples, bench)
# with a sanitizer, so that the instrumented library is linked only into instrumented
# programs. scripts/sanitize.sh configures, builds and runs the suites; docs/sanitizers.md
# says what they cover.
#   thread   ThreadSanitizer
#   address  AddressSanitizer + UndefinedBehaviorSanitizer; the first UB report aborts,
#            so a run cannot pass with a report buried in its log
set(WHARF_SANITIZE "" CACHE STRING "Build with sanitizers: thread, address (ASan + UBSan), or empty")
set_property(CACHE WHARF_SANITIZE PROPERTY STRINGS "" thread address)

if(WHARF_SANITIZE STREQUAL "thread")
  set(_wharf_sanitize_flags -fsanitize=thread)
  # GCC warns at every Asio handler call that TSan ignores atomic_thread_fence (Asio's
  # fenced_block). Those fences are redundant there: handlers change hands under the
  # scheduler's and the strands' mutexes, which TSan does see. Real reports are unaffected.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    set(_wharf_sanitize_warnings -Wno-tsan)
  endif()
elseif(WHARF_SANITIZE STREQUAL "address")
  set(_wharf_sanitize_flags -fsanitize=address,undefined -fno-sanitize-recover=undefined)
elseif(NOT WHARF_SANITIZE STREQUAL "")
  message(FATAL_ERROR "WHARF_SANITIZE is '${WHARF_SANITIZE}'; use thread, address or leave it empty")
endif()

if(_wharf_sanitize_flags)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    message(FATAL_ERROR "WHARF_SANITIZE needs GCC or Clang")
  endif()
  # Directory scope, not a target property: the precompiled headers are compiled with
  # the same flags as the sources that use them, and every target below gets them.
  # Frame pointers make the sanitizers' fast unwinder give whole stacks.
  add_compile_options(${_wharf_sanitize_flags} -fno-omit-frame-pointer ${_wharf_sanitize_warnings})
  add_link_options(${_wharf_sanitize_flags})
endif()
