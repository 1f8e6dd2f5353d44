# Every dependency through find_package / pkg-config, with a message that says how to get it.
set(_pmap_apt "On Debian/Ubuntu run ./scripts/setup.sh (apt-get); on a cluster, `module load` an MPI and a parallel HDF5 built against it")

find_package(Threads REQUIRED)
find_package(MPI REQUIRED COMPONENTS CXX)
find_package(OpenMP REQUIRED COMPONENTS CXX)

set(HDF5_PREFER_PARALLEL ON)
find_package(HDF5 REQUIRED COMPONENTS C)
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR "pmap needs a *parallel* HDF5 (MPI-IO), but found a serial one "
    "(${HDF5_C_INCLUDE_DIRS}). ${_pmap_apt}: package libhdf5-openmpi-dev.")
endif()
if(NOT TARGET HDF5::HDF5)
  add_library(HDF5::HDF5 INTERFACE IMPORTED)
  target_include_directories(HDF5::HDF5 INTERFACE ${HDF5_C_INCLUDE_DIRS})
  target_link_libraries(HDF5::HDF5 INTERFACE ${HDF5_C_LIBRARIES})
  target_compile_definitions(HDF5::HDF5 INTERFACE ${HDF5_C_DEFINITIONS})
endif()

find_package(CURL REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(CLI11 2 REQUIRED)
