# cmake -P script behind the install.examples test (see CMakeLists.txt next to it).
cmake_minimum_required(VERSION 3.25)
foreach(var IN ITEMS PMAP_BUILD_DIR PMAP_SOURCE_DIR PMAP_WORK_DIR PMAP_MPIEXEC PMAP_VERSION)
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
foreach(f IN ITEMS include/pmap/map.hpp include/pmap/plugin_abi.h include/pmap/version.hpp
                   bin/pmap)
  if(NOT EXISTS "${prefix}/${f}")
    message(FATAL_ERROR "install test: ${prefix}/${f} was not installed")
  endif()
endforeach()
# Only the API is installed: the internals (engine, results file, URL checker) are not.
foreach(f IN ITEMS h5.hpp results.hpp compute.hpp schedule.hpp url_check.hpp)
  if(EXISTS "${prefix}/include/pmap/${f}")
    message(FATAL_ERROR "install test: the internal header pmap/${f} was installed")
  endif()
endforeach()
# No installed header needs HDF5's or curl's headers.
file(GLOB headers RELATIVE "${prefix}/include" "${prefix}/include/pmap/*")
foreach(h IN LISTS headers)
  file(STRINGS "${prefix}/include/${h}" bad REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"](hdf5|H5|curl/)")
  if(bad)
    message(FATAL_ERROR "install test: the installed ${h} includes HDF5 or curl: ${bad}")
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

# HDF5's and curl's headers made unreachable for the consumers below: their names resolve to
# headers that stop the compilation (searched before the system directories, where curl/curl.h
# is on Debian), and the consumers' compile commands must not name HDF5's include directory.
set(poison "${PMAP_WORK_DIR}/poisoned-headers")
foreach(h IN ITEMS hdf5.h H5public.h curl/curl.h)
  file(WRITE "${poison}/${h}" "#error \"${h} reached from pmap's installed headers\"\n")
endforeach()
function(consumer name main)
  set(dir "${PMAP_WORK_DIR}/${name}")
  file(MAKE_DIRECTORY "${dir}")
  file(WRITE "${dir}/CMakeLists.txt" "${ARGN}")
  file(WRITE "${dir}/main.cpp" "${main}")
  step(configure-${name} ${CMAKE_COMMAND} -S "${dir}" -B "${dir}/build"
       -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=${PMAP_BUILD_TYPE}
       -DCMAKE_CXX_COMPILER=${PMAP_CXX_COMPILER} "-DCMAKE_CXX_FLAGS=-I${poison}"
       -DCMAKE_EXPORT_COMPILE_COMMANDS=ON)
  step(build-${name} ${CMAKE_COMMAND} --build "${dir}/build")
  file(READ "${dir}/build/compile_commands.json" commands)
  if(commands MATCHES "hdf5/|include/hdf5")
    message(FATAL_ERROR "install test: ${name} compiles with HDF5's headers:\n${commands}")
  endif()
endfunction()

# The minimal consumer, as a new user writes it: C++ only (pmapConfig.cmake enables C for
# FindHDF5 itself), no C++ standard set (pmap::core asks for C++20), three lines.
consumer(minimal [=[
#include <pmap/map.hpp>
#include <pmap/version.hpp>
#include <cstdio>
int main(int argc, char** argv) {
  pmap::Session session(argc, argv);
  const auto r = pmap::map(session, std::vector<int>{1, 2, 3}, [](int x) { return x * 1.5; });
  if (session.is_root())
    std::printf("minimal %g %g %g pmap %s\n", r[0], r[1], r[2], pmap::kVersion);
  return r.ok() ? 0 : 1;
}
]=] [=[
cmake_minimum_required(VERSION 3.25)
project(minimal LANGUAGES CXX)
find_package(pmap 0.1 REQUIRED)
add_executable(minimal main.cpp)
target_link_libraries(minimal PRIVATE pmap::core)
]=])
execute_process(COMMAND ${PMAP_MPIEXEC} -n 2 --bind-to none
                        "${PMAP_WORK_DIR}/minimal/build/minimal"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "[run-minimal] exit ${rc}\n${out}${err}")
if(NOT rc EQUAL 0 OR NOT out MATCHES "minimal 1.5 3 4.5 pmap ${PMAP_VERSION}\n")
  message(FATAL_ERROR "install test: the minimal consumer failed (expected pmap ${PMAP_VERSION})")
endif()

# Every installed C++ header compiles on its own, as the first include of a file.
set(sources "")
foreach(h IN LISTS headers)
  if(h MATCHES "\\.hpp$")
    string(MAKE_C_IDENTIFIER "${h}" id)
    file(WRITE "${PMAP_WORK_DIR}/headers/${id}.cpp" "#include <${h}>\n")
    string(APPEND sources " ${id}.cpp")
  endif()
endforeach()
consumer(headers "int main() { return 0; }\n" "
cmake_minimum_required(VERSION 3.25)
project(headers LANGUAGES CXX)
find_package(pmap 0.1 REQUIRED)
add_executable(headers main.cpp ${sources})
target_link_libraries(headers PRIVATE pmap::core)
")
