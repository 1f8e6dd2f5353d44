# pmap_add_test: the one way a test of any kind is registered with ctest.
#
#   pmap_add_test(<name> KIND <GTEST|MPI|SCRIPT> LABEL <label> TIMEOUT <seconds>
#                 [TARGET <executable target>]   GTEST: its tests are discovered (<name> unused
#                                                beyond the call); MPI: the program launched
#                 [RANKS <n>] [MPI_ARGS ...]     MPI: mpiexec -n <n> <MPI_ARGS> <program> <ARGS>
#                 [COMMAND ...]                  SCRIPT: the command line (a script, cmake -P)
#                 [ARGS ...]                     arguments after the program or command
#                 [PROCESSORS <n>] [SKIP_RETURN_CODE <code>] [RESOURCE_LOCK <name>]
#                 [FIXTURES_SETUP <f>] [FIXTURES_CLEANUP <f>] [FIXTURES_REQUIRED <f>...]
#                 [PASS_REGULAR_EXPRESSION <re>] [ENVIRONMENT <VAR=value>...])
#
# Every test runs with what an MPI launch needs on a 2-core CI machine running as root (and the
# sanitizers' options), then its own ENVIRONMENT (later settings win).
include_guard(GLOBAL)
include(GoogleTest)

function(pmap_add_test name)
  cmake_parse_arguments(T ""
    "KIND;LABEL;TIMEOUT;TARGET;RANKS;PROCESSORS;SKIP_RETURN_CODE;RESOURCE_LOCK;FIXTURES_SETUP;FIXTURES_CLEANUP;PASS_REGULAR_EXPRESSION"
    "MPI_ARGS;COMMAND;ARGS;FIXTURES_REQUIRED;ENVIRONMENT" ${ARGN})
  if(NOT T_LABEL OR NOT T_TIMEOUT)
    message(FATAL_ERROR "pmap_add_test(${name}): LABEL and TIMEOUT are required")
  endif()
  set(env
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
    OMPI_MCA_mca_base_component_disable_dlclose=1
    LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/support/lsan.supp:print_suppressions=0:fast_unwind_on_malloc=0
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:fast_unwind_on_malloc=0
    ${T_ENVIRONMENT})
  if(T_KIND STREQUAL "GTEST")
    # gtest_discover_tests passes a list-valued property on as separate arguments, so only the
    # first entry of ENVIRONMENT would reach the tests: the environment goes through `env` as
    # the test executor instead (used for discovery and for every discovered test).
    set_property(TARGET ${T_TARGET} PROPERTY CROSSCOMPILING_EMULATOR env ${env})
    set(props LABELS ${T_LABEL} TIMEOUT ${T_TIMEOUT})
    if(T_PROCESSORS)
      list(APPEND props PROCESSORS ${T_PROCESSORS})
    endif()
    gtest_discover_tests(${T_TARGET} EXTRA_ARGS ${T_ARGS} PROPERTIES ${props}
                         DISCOVERY_TIMEOUT 60)
    return()
  elseif(T_KIND STREQUAL "MPI")
    add_test(NAME ${name}
             COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${T_RANKS} ${T_MPI_ARGS}
                     $<TARGET_FILE:${T_TARGET}> ${T_ARGS})
  elseif(T_KIND STREQUAL "SCRIPT")
    add_test(NAME ${name} COMMAND ${T_COMMAND} ${T_ARGS})
  else()
    message(FATAL_ERROR "pmap_add_test(${name}): KIND must be GTEST, MPI or SCRIPT")
  endif()
  set_tests_properties(${name} PROPERTIES LABELS ${T_LABEL} TIMEOUT ${T_TIMEOUT}
                       ENVIRONMENT "${env}")
  foreach(prop PROCESSORS SKIP_RETURN_CODE RESOURCE_LOCK FIXTURES_SETUP FIXTURES_CLEANUP
               PASS_REGULAR_EXPRESSION)
    if(DEFINED T_${prop})
      set_tests_properties(${name} PROPERTIES ${prop} "${T_${prop}}")
    endif()
  endforeach()
  if(T_FIXTURES_REQUIRED)
    set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED "${T_FIXTURES_REQUIRED}")
  endif()
endfunction()
