# Compiles FlatBuffers schemas with Debian's flatc at build time; the generated
# headers live in the build tree only and are never committed.
find_program(FLATC_EXECUTABLE flatc REQUIRED)

function(triad_flatbuffers target)
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/generated/triad/wire)
  set(headers)
  foreach(schema ${ARGN})
    get_filename_component(stem ${schema} NAME_WE)
    set(header ${out_dir}/${stem}_generated.h)
    add_custom_command(
      OUTPUT ${header}
      COMMAND ${FLATC_EXECUTABLE} --cpp --scoped-enums -o ${out_dir}
              -I ${CMAKE_CURRENT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/${schema}
      DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${schema} ${ARGN}
      COMMENT "flatc ${schema}"
      VERBATIM)
    list(APPEND headers ${header})
  endforeach()
  add_custom_target(${target}_gen DEPENDS ${headers})
  add_library(${target} INTERFACE)
  add_dependencies(${target} ${target}_gen)
  target_include_directories(${target} SYSTEM INTERFACE ${CMAKE_CURRENT_BINARY_DIR}/generated)
  # Only FlatBuffers' header-only core is used, so no library is linked: the
  # libc++ replica build must not pull in a libstdc++-built libflatbuffers.
endfunction()
