# PmapInstall.cmake — `cmake --install` puts the headers, the pmap_core library (exported as
# pmap::core), the ABI-only target pmap::plugin_abi, the pmap binary (pmap::pmap) and a package
# configuration, so another project does
#
#   find_package(pmap 0.1 REQUIRED)
#   target_link_libraries(app PRIVATE pmap::core)          # the C++ API (pmap/map.hpp)
#   target_link_libraries(plugin PRIVATE pmap::plugin_abi) # a kernel plugin (pmap/plugin_abi.h)
#
# pmap::core carries what a consumer needs: C++20 (a compile feature), MPI and OpenMP (the headers
# use mpi.h), and HDF5 and curl as link-only dependencies of the static library. pmapConfig.cmake
# finds MPI, OpenMP, a *parallel* HDF5, CURL and Threads again in the consuming project
# (find_dependency), the way pmap's own build found them.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(PMAP_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/pmap" CACHE STRING
    "Where pmapConfig.cmake is installed (relative to the prefix)")

# pmap_core is static: its private dependencies reach consumers as link-only entries. The
# warning and sanitizer flags and the header-only JSON library are build-time matters, so they
# are kept out of the exported interface (the sanitizers' link flags excepted, below).
get_target_property(_pmap_core_iface pmap_core INTERFACE_LINK_LIBRARIES)
if(_pmap_core_iface)
  set(_pmap_core_exported)
  foreach(_item IN LISTS _pmap_core_iface)
    foreach(_build_only IN ITEMS pmap_warnings pmap_sanitizers nlohmann_json::nlohmann_json)
      if(_item STREQUAL "$<LINK_ONLY:${_build_only}>")
        set(_item "$<LINK_ONLY:$<BUILD_INTERFACE:${_build_only}>>")
      endif()
    endforeach()
    list(APPEND _pmap_core_exported "${_item}")
  endforeach()
  set_property(TARGET pmap_core PROPERTY INTERFACE_LINK_LIBRARIES "${_pmap_core_exported}")
endif()
if(PMAP_SANITIZE)
  # An instrumented static library needs the sanitizer runtimes wherever it is linked.
  target_link_options(pmap_core INTERFACE
    "$<INSTALL_INTERFACE:-fsanitize=address,undefined>")
endif()
set_target_properties(pmap_core PROPERTIES EXPORT_NAME core)

# The plugin ABI: one C header, no library.
add_library(pmap_plugin_abi INTERFACE)
add_library(pmap::plugin_abi ALIAS pmap_plugin_abi)
target_include_directories(pmap_plugin_abi INTERFACE
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
set_target_properties(pmap_plugin_abi PROPERTIES EXPORT_NAME plugin_abi)

# The public headers only (include/pmap/: map, kernels, plugins, errors; the internals live in
# src/pmap/) and the generated version.hpp. None of them includes hdf5.h or curl.h: tests/install
# checks that, and builds a consumer that cannot reach HDF5's headers.
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/pmap" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h")
install(FILES "${PROJECT_BINARY_DIR}/include/pmap/version.hpp"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/pmap")
install(TARGETS pmap_core pmap_plugin_abi pmap
        EXPORT pmapTargets
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
install(EXPORT pmapTargets NAMESPACE pmap:: DESTINATION "${PMAP_INSTALL_CMAKEDIR}")
# The worker kernel's Python helper: python3 -m pmap_worker module:function.
install(FILES "${PROJECT_SOURCE_DIR}/python/pmap_worker.py"
        DESTINATION "${CMAKE_INSTALL_DATADIR}/pmap/python")

configure_package_config_file("${CMAKE_CURRENT_LIST_DIR}/pmapConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/pmapConfig.cmake"
  INSTALL_DESTINATION "${PMAP_INSTALL_CMAKEDIR}"
  PATH_VARS CMAKE_INSTALL_BINDIR)
# 0.x: a minor version may break the API, so only the same minor version is compatible.
write_basic_package_version_file("${PROJECT_BINARY_DIR}/pmapConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}" COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/pmapConfig.cmake" "${PROJECT_BINARY_DIR}/pmapConfigVersion.cmake"
        DESTINATION "${PMAP_INSTALL_CMAKEDIR}")
