# pmap_find_parallel_hdf5(): defines HDF5::HDF5 for a *parallel* HDF5 (MPI-IO), or stops with a
# message that says why and what to do. Sets PMAP_HDF5_FOUND_BY ("FindHDF5" or "pkg-config X").
#
# FindHDF5 asks the compiler wrapper (h5pcc) first. Debian's wrapper does not quote paths, so in
# a build path with a space it "is unable to compile a minimal HDF5 program" and FindHDF5 fails.
# The parallel HDF5 packages also ship a pkg-config file (Debian: hdf5-openmpi, hdf5-mpi; a
# parallel build from source: hdf5): when FindHDF5 finds no parallel HDF5, those are asked,
# and one counts only if its H5pubconf.h says H5_HAVE_PARALLEL.

# True in `out` when the H5pubconf.h under `include_dirs` says H5_HAVE_PARALLEL.
function(_pmap_hdf5_is_parallel include_dirs out)
  set(${out} FALSE PARENT_SCOPE)
  foreach(dir IN LISTS include_dirs)
    if(EXISTS "${dir}/H5pubconf.h")
      file(STRINGS "${dir}/H5pubconf.h" parallel REGEX "^#define H5_HAVE_PARALLEL 1")
      if(parallel)
        set(${out} TRUE PARENT_SCOPE)
      endif()
      return()
    endif()
  endforeach()
endfunction()

# The first parallel HDF5 that pkg-config knows, as HDF5::HDF5.
function(_pmap_hdf5_from_pkg_config)
  find_package(PkgConfig QUIET)
  if(NOT PkgConfig_FOUND)
    return()
  endif()
  foreach(module IN ITEMS hdf5-openmpi hdf5-mpi hdf5-mpich hdf5)
    string(MAKE_C_IDENTIFIER "PMAP_PC_${module}" prefix)
    pkg_check_modules(${prefix} QUIET IMPORTED_TARGET GLOBAL ${module})
    if(NOT ${prefix}_FOUND)
      continue()
    endif()
    _pmap_hdf5_is_parallel("${${prefix}_INCLUDE_DIRS}" parallel)
    if(parallel)
      add_library(HDF5::HDF5 ALIAS PkgConfig::${prefix})
      set(PMAP_HDF5_FOUND_BY "pkg-config ${module}" PARENT_SCOPE)
      return()
    endif()
  endforeach()
endfunction()

function(pmap_find_parallel_hdf5 how_to_get)
  set(HDF5_PREFER_PARALLEL ON)
  find_package(HDF5 QUIET COMPONENTS C)
  if(HDF5_FOUND AND HDF5_IS_PARALLEL)
    if(NOT TARGET HDF5::HDF5)
      add_library(HDF5::HDF5 INTERFACE IMPORTED GLOBAL)
      target_include_directories(HDF5::HDF5 INTERFACE ${HDF5_C_INCLUDE_DIRS})
      target_link_libraries(HDF5::HDF5 INTERFACE ${HDF5_C_LIBRARIES})
      target_compile_definitions(HDF5::HDF5 INTERFACE ${HDF5_C_DEFINITIONS})
    endif()
    message(STATUS "Parallel HDF5 through FindHDF5: ${HDF5_C_INCLUDE_DIRS}")
    set(PMAP_HDF5_FOUND_BY "FindHDF5" PARENT_SCOPE)
    return()
  endif()
  if(NOT TARGET HDF5::HDF5)
    _pmap_hdf5_from_pkg_config()
  endif()
  if(PMAP_HDF5_FOUND_BY)
    message(STATUS "Parallel HDF5 through ${PMAP_HDF5_FOUND_BY} (FindHDF5 found none)")
    set(PMAP_HDF5_FOUND_BY "${PMAP_HDF5_FOUND_BY}" PARENT_SCOPE)
    return()
  endif()
  set(why "")
  if(HDF5_FOUND)
    set(why "FindHDF5 found a serial HDF5 (${HDF5_C_INCLUDE_DIRS}). ")
  endif()
  if(CMAKE_BINARY_DIR MATCHES " ")
    string(APPEND why "The build path '${CMAKE_BINARY_DIR}' contains a space, and the HDF5 "
      "compiler wrapper h5pcc (which FindHDF5 asks first) does not quote paths, so it cannot "
      "compile there. ")
  endif()
  message(FATAL_ERROR "pmap needs a *parallel* HDF5 (MPI-IO) and found none. ${why}"
    "What to do: ${how_to_get} (package libhdf5-openmpi-dev); or point CMake at it with "
    "-DHDF5_ROOT=DIR, or pkg-config with PKG_CONFIG_PATH=DIR/lib/pkgconfig (a parallel HDF5's "
    "hdf5.pc); or configure in a build path without spaces.")
endfunction()
