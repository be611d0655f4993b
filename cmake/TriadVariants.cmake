# The three replica builds (design.md "Diversity"): one source, three
# toolchains, so that one compiler bug, standard-library bug or optimiser
# surprise cannot hit all three replicas at once. Each is a separate CMake
# sub-build of this same source tree with TRIAD_REPLICA_ONLY=ON, driven by the
# normal build; the binaries land in bin/ as triad-replica-a, -b, -c.
include(ExternalProject)

find_program(TRIAD_GXX NAMES g++ REQUIRED)
find_program(TRIAD_CLANGXX NAMES clang++ clang++-14 REQUIRED)

# triad_replica_variant(NAME COMPILER cxx FLAGS "..." INDEX hash|ordered|sorted
#                       [LINK_FLAGS "..."] [EXTRA -D...])
function(triad_replica_variant name)
  cmake_parse_arguments(V "" "COMPILER;FLAGS;LINK_FLAGS;INDEX" "EXTRA" ${ARGN})
  ExternalProject_Add(replica-variant-${name}
    SOURCE_DIR ${PROJECT_SOURCE_DIR}
    BINARY_DIR ${PROJECT_BINARY_DIR}/variants/${name}
    CMAKE_ARGS
      -DCMAKE_CXX_COMPILER=${V_COMPILER}
      -DCMAKE_BUILD_TYPE=None
      "-DCMAKE_CXX_FLAGS=${V_FLAGS}"
      "-DCMAKE_EXE_LINKER_FLAGS=${V_LINK_FLAGS}"
      -DTRIAD_REPLICA_ONLY=ON
      -DTRIAD_CARD_INDEX=${V_INDEX}
      -DTRIAD_SANITIZE=${TRIAD_SANITIZE}
      -DTRIAD_REPLICA_OUTPUT_NAME=triad-replica-${name}
      -DTRIAD_REPLICA_OUTPUT_DIR=${PROJECT_BINARY_DIR}/bin
      ${V_EXTRA}
    INSTALL_COMMAND ""
    # Always step into the sub-build so source edits reach every variant.
    BUILD_ALWAYS ON
    BUILD_BYPRODUCTS ${PROJECT_BINARY_DIR}/bin/triad-replica-${name})
endfunction()

triad_replica_variant(a COMPILER ${TRIAD_GXX} FLAGS "-O2" INDEX hash)
triad_replica_variant(b COMPILER ${TRIAD_CLANGXX} FLAGS "-O3 -stdlib=libc++"
  LINK_FLAGS "-stdlib=libc++" INDEX ordered)
triad_replica_variant(c COMPILER ${TRIAD_GXX} FLAGS "-O1 -D_GLIBCXX_ASSERTIONS" INDEX sorted)
if(TRIAD_BUILD_TESTS)
  # Test only: variant a with one rule deliberately broken, to show the
  # differential test catches a divergent build (never used by `triad up`).
  triad_replica_variant(faulty COMPILER ${TRIAD_GXX} FLAGS "-O2" INDEX hash
    EXTRA -DTRIAD_RULES_TEST_FAULT=ON)
endif()
add_custom_target(replica-variants ALL DEPENDS replica-variant-a replica-variant-b replica-variant-c)
