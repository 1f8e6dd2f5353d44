# INTERFACE targets carrying our flags: nothing is set globally.
add_library(pmap_warnings INTERFACE)
target_compile_options(pmap_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough
  $<$<BOOL:${PMAP_WERROR}>:-Werror>)

add_library(pmap_sanitizers INTERFACE)
if(PMAP_SANITIZE OR PMAP_FUZZ)
  target_compile_options(pmap_sanitizers INTERFACE
    -fsanitize=address,undefined -fno-sanitize=vptr -fno-omit-frame-pointer
    -fno-sanitize-recover=undefined)
  # No vptr check: UBSan probes a vtable's memory through a pipe, so once the process has no
  # free descriptor (which pmap must survive, tests UrlLimits.*) it reports every new thread's
  # virtual call as "invalid vptr". Everything else of -fsanitize=undefined stays.
  target_link_options(pmap_sanitizers INTERFACE -fsanitize=address,undefined)
  # GCC 12 reports false -Wmaybe-uninitialized inside libstdc++ (<regex>, std::function) once
  # ASan instrumentation changes inlining; the release build keeps the warning as an error.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(pmap_sanitizers INTERFACE -Wno-maybe-uninitialized)
  endif()
endif()
# A fuzz build (clang only) also gives everything libFuzzer's coverage instrumentation; only the
# fuzz targets themselves link libFuzzer (-fsanitize=fuzzer, in tests/fuzz/CMakeLists.txt).
if(PMAP_FUZZ)
  target_compile_options(pmap_sanitizers INTERFACE -fsanitize=fuzzer-no-link)
endif()
