# Build-time guard, run by the iotjobs_cargo target after cargo and before the library is staged:
#   cmake -DIOTJOBS_LIBRARY=<.so> -DIOTJOBS_EXPECTED_MACHINE=<e_machine> -DIOTJOBS_RUST_TARGET=<triple>
#         -P check-library-machine.cmake
# Fails when the library cargo produced is not for the machine CMake's C compiler builds for,
# so a host library can never end up in a cross build.
cmake_minimum_required(VERSION 3.16)
include("${CMAKE_CURRENT_LIST_DIR}/IotjobsTarget.cmake")

if(NOT EXISTS "${IOTJOBS_LIBRARY}")
  message(FATAL_ERROR "iotjobs: cargo produced no ${IOTJOBS_LIBRARY}")
endif()
iotjobs_elf_machine("${IOTJOBS_LIBRARY}" _actual)
if(_actual STREQUAL "")
  message(FATAL_ERROR "iotjobs: ${IOTJOBS_LIBRARY} is not an ELF file")
endif()
if(NOT _actual STREQUAL "${IOTJOBS_EXPECTED_MACHINE}")
  iotjobs_machine_name("${_actual}" _actual_name)
  iotjobs_machine_name("${IOTJOBS_EXPECTED_MACHINE}" _expected_name)
  if(IOTJOBS_RUST_TARGET)
    set(_how "cargo built for the Rust target ${IOTJOBS_RUST_TARGET}")
  else()
    set(_how "cargo built for the host (no IOTJOBS_RUST_TARGET)")
  endif()
  message(FATAL_ERROR
    "iotjobs: wrong architecture: ${IOTJOBS_LIBRARY} is ${_actual_name}, but the C compiler "
    "builds for ${_expected_name}; ${_how}. Set IOTJOBS_RUST_TARGET to the Rust triple of the "
    "toolchain (see docs/cross-compiling.md).")
endif()
