# cmake -P script behind the install.examples test (see CMakeLists.txt next to it).
cmake_minimum_required(VERSION 3.25)
foreach(var IN ITEMS PMAP_BUILD_DIR PMAP_SOURCE_DIR PMAP_WORK_DIR PMAP_MPIEXEC)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_install_test.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT PMAP_BUILD_TYPE)
  set(PMAP_BUILD_TYPE Release)
endif()

set(prefix "${PMAP_WORK_DIR}/prefix")
set(build "${PMAP_WORK_DIR}/examples-build")
file(REMOVE_RECURSE "${PMAP_WORK_DIR}")
file(MAKE_DIRECTORY "${PMAP_WORK_DIR}")

function(step name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                  WORKING_DIRECTORY "${PMAP_WORK_DIR}")
  message(STATUS "[${name}] exit ${rc}\n${out}${err}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install test: step '${name}' failed (exit ${rc})")
  endif()
endfunction()

step(install ${CMAKE_COMMAND} --install "${PMAP_BUILD_DIR}" --prefix "${prefix}")
foreach(f IN ITEMS include/pmap/map.hpp include/pmap/plugin_abi.h bin/pmap)
  if(NOT EXISTS "${prefix}/${f}")
    message(FATAL_ERROR "install test: ${prefix}/${f} was not installed")
  endif()
endforeach()
file(GLOB_RECURSE config "${prefix}/*/pmapConfig.cmake")
if(NOT config)
  message(FATAL_ERROR "install test: no pmapConfig.cmake under ${prefix}")
endif()

# Configure the examples against the prefix only (not the build tree), with the same compilers.
step(configure ${CMAKE_COMMAND} -S "${PMAP_SOURCE_DIR}/examples" -B "${build}"
     -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=${PMAP_BUILD_TYPE}
     -DCMAKE_C_COMPILER=${PMAP_C_COMPILER} -DCMAKE_CXX_COMPILER=${PMAP_CXX_COMPILER}
     "-DPMAP_EXAMPLES_MPIEXEC=${PMAP_MPIEXEC} -n 2 --bind-to none")
step(build ${CMAKE_COMMAND} --build "${build}" -j 2)
# The examples use the installed headers and the installed pmap binary, not the build tree's.
file(STRINGS "${build}/CMakeCache.txt" pmap_dir REGEX "^pmap_DIR:")
if(NOT pmap_dir MATCHES "${prefix}")
  message(FATAL_ERROR "install test: find_package(pmap) found ${pmap_dir}, not ${prefix}")
endif()
step(run ${CMAKE_CTEST_COMMAND} --test-dir "${build}" --output-on-failure --timeout 300)

# A C++-only consumer (no C enabled: pmapConfig.cmake enables it for FindHDF5 itself).
set(cxx_only "${PMAP_WORK_DIR}/cxx-only")
file(MAKE_DIRECTORY "${cxx_only}")
file(WRITE "${cxx_only}/CMakeLists.txt" [=[
cmake_minimum_required(VERSION 3.25)
project(cxx_only LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 20)
find_package(pmap 0.1 REQUIRED)
add_executable(cxx_only main.cpp)
target_link_libraries(cxx_only PRIVATE pmap::core)
]=])
file(WRITE "${cxx_only}/main.cpp" [=[
#include <pmap/map.hpp>
#include <cstdio>
int main(int argc, char** argv) {
  pmap::Session session(argc, argv);
  const auto r = pmap::map(session, std::vector<int>{1, 2, 3}, [](int x) { return x * 1.5; });
  if (session.is_root()) std::printf("cxx_only %g %g %g\n", r[0], r[1], r[2]);
  return r.ok() ? 0 : 1;
}
]=])
step(configure-cxx-only ${CMAKE_COMMAND} -S "${cxx_only}" -B "${cxx_only}/build"
     -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=${PMAP_BUILD_TYPE}
     -DCMAKE_CXX_COMPILER=${PMAP_CXX_COMPILER})
step(build-cxx-only ${CMAKE_COMMAND} --build "${cxx_only}/build")
execute_process(COMMAND ${PMAP_MPIEXEC} -n 2 --bind-to none "${cxx_only}/build/cxx_only"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "[run-cxx-only] exit ${rc}\n${out}${err}")
if(NOT rc EQUAL 0 OR NOT out MATCHES "cxx_only 1.5 3 4.5")
  message(FATAL_ERROR "install test: the C++-only consumer failed")
endif()
