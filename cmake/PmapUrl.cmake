# PmapUrl.cmake — the URL stage: its sources in pmap_core, the local HTTP fixture server
# (pmap_http_fixture) and the URL tests (pmap_url_tests, ctest label "urls").
# Include it from the top-level CMakeLists.txt once pmap_core exists (a library with src/ as its
# private include directory, where pmap/url_check.hpp lives) and pmap_internal (the interface
# target that gives in-tree code src/, HDF5 and curl). It finds GTest and includes GoogleTest
# itself; enable_testing() may come before or after, in the same directory.
# Tests are skipped when PMAP_BUILD_TESTS or BUILD_TESTING is OFF.

if(NOT TARGET pmap_core)
  message(FATAL_ERROR "PmapUrl.cmake: define target pmap_core before including this file")
endif()

# Paths from this file, not PROJECT_SOURCE_DIR: the fragment works from any including project.
get_filename_component(_pmap_url_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)

target_sources(pmap_core PRIVATE
  "${_pmap_url_root}/src/url_check.cpp"
  "${_pmap_url_root}/src/detail/curl_handle.cpp"
  "${_pmap_url_root}/src/detail/tls_trust.cpp"
  "${_pmap_url_root}/src/detail/url_loop.cpp"
  "${_pmap_url_root}/src/detail/url_queue.cpp"
  "${_pmap_url_root}/src/detail/url_request.cpp"
  "${_pmap_url_root}/src/detail/url_transfer.cpp")

# International host names are converted with libidn2 (locale-independent), not by libcurl,
# whose conversion needs a UTF-8 locale. A consumer of the installed static library links -lidn2.
find_package(PkgConfig REQUIRED)
pkg_check_modules(PMAP_IDN2 REQUIRED IMPORTED_TARGET GLOBAL libidn2)
target_link_libraries(pmap_core PRIVATE $<BUILD_INTERFACE:PkgConfig::PMAP_IDN2>
                                        $<INSTALL_INTERFACE:idn2>)

# Flags shared by the test programs: the project's warnings and sanitizers when it has them.
function(_pmap_url_common target)
  target_compile_features(${target} PRIVATE cxx_std_20)
  foreach(helper IN ITEMS pmap_warnings pmap_sanitizers)
    if(TARGET ${helper})
      target_link_libraries(${target} PRIVATE ${helper})
    endif()
  endforeach()
endfunction()

# Tests unless the project turned them off (PMAP_BUILD_TESTS or CTest's BUILD_TESTING).
set(_pmap_url_tests ON)
if((DEFINED PMAP_BUILD_TESTS AND NOT PMAP_BUILD_TESTS) OR
   (DEFINED BUILD_TESTING AND NOT BUILD_TESTING))
  set(_pmap_url_tests OFF)
endif()

if(_pmap_url_tests)
  find_package(Threads REQUIRED)
  if(NOT TARGET GTest::gtest_main)
    find_package(GTest REQUIRED)
  endif()
  if(NOT TARGET nlohmann_json::nlohmann_json)
    find_package(nlohmann_json 3 REQUIRED)
  endif()
  include(PmapTesting)

  # The fixture: a standalone single-threaded epoll HTTP server (no dependencies).
  add_executable(pmap_http_fixture "${_pmap_url_root}/tests/support/http_fixture.cpp")
  _pmap_url_common(pmap_http_fixture)

  add_executable(pmap_url_tests "${_pmap_url_root}/tests/unit/url_check_test.cpp"
                                "${_pmap_url_root}/tests/unit/url_queue_test.cpp")
  _pmap_url_common(pmap_url_tests)
  # Glue around pmap_core: -O1 compiles it faster in Release (the fixture stays optimised).
  target_compile_options(pmap_url_tests PRIVATE $<$<CONFIG:Release>:-O1>)
  target_link_libraries(pmap_url_tests PRIVATE
    pmap_internal GTest::gtest_main Threads::Threads nlohmann_json::nlohmann_json)
  target_include_directories(pmap_url_tests PRIVATE
    "${_pmap_url_root}/tests"  # support/
    "${_pmap_url_root}/src")   # detail/ (private helpers tested directly)
  target_compile_definitions(pmap_url_tests PRIVATE
    "PMAP_HTTP_FIXTURE=\"$<TARGET_FILE:pmap_http_fixture>\"")
  add_dependencies(pmap_url_tests pmap_http_fixture)
  # Each test starts its own fixture server on a free port: safe under ctest -j.
  pmap_add_test(urls KIND GTEST TARGET pmap_url_tests LABEL urls TIMEOUT 120)

  # Against a real nginx (tests/support/nginx_fixture.sh), skipped where nginx is not installed.
  add_executable(pmap_url_nginx_tests "${_pmap_url_root}/tests/unit/url_nginx_test.cpp")
  _pmap_url_common(pmap_url_nginx_tests)
  target_compile_options(pmap_url_nginx_tests PRIVATE $<$<CONFIG:Release>:-O1>)
  target_link_libraries(pmap_url_nginx_tests PRIVATE
    pmap_internal GTest::gtest_main Threads::Threads nlohmann_json::nlohmann_json)
  target_include_directories(pmap_url_nginx_tests PRIVATE "${_pmap_url_root}/tests")
  target_compile_definitions(pmap_url_nginx_tests PRIVATE
    "PMAP_NGINX_FIXTURE=\"${_pmap_url_root}/tests/support/nginx_fixture.sh\"")
  pmap_add_test(url_nginx KIND GTEST TARGET pmap_url_nginx_tests LABEL urls TIMEOUT 120)
endif()
