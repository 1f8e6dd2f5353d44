# Every dependency through find_package / pkg-config, with a message that says how to get it.
set(_pmap_apt "On Debian/Ubuntu run ./scripts/setup.sh (apt-get); on a cluster, `module load` an MPI and a parallel HDF5 built against it")

find_package(Threads REQUIRED)
find_package(MPI REQUIRED COMPONENTS CXX)
find_package(OpenMP REQUIRED COMPONENTS CXX)

include(${CMAKE_CURRENT_LIST_DIR}/PmapParallelHDF5.cmake)
pmap_find_parallel_hdf5("${_pmap_apt}")

find_package(CURL REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(CLI11 2 REQUIRED)
