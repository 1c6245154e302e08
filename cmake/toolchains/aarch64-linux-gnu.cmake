# Cross-compiling for 64-bit ARM Linux (glibc) with Debian's/Ubuntu's gcc-aarch64-linux-gnu:
#   cmake -S . -B build-arm64 --toolchain cmake/toolchains/aarch64-linux-gnu.cmake
# (CMake < 3.21: -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake).
# iotjobs derives the Rust target (aarch64-unknown-linux-gnu) from this compiler and links the
# Rust library with it; `rustup target add aarch64-unknown-linux-gnu` must have been run.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(_iotjobs_cross aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${_iotjobs_cross}-gcc)
find_program(_iotjobs_cross_cxx ${_iotjobs_cross}-g++)
if(_iotjobs_cross_cxx)
  set(CMAKE_CXX_COMPILER ${_iotjobs_cross_cxx})
endif()

# Libraries and headers come from the target's tree only; programs run on the build machine.
set(CMAKE_FIND_ROOT_PATH /usr/${_iotjobs_cross})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# ctest and add_test run the target's programs under qemu-user when it is installed.
find_program(_iotjobs_qemu qemu-aarch64)
if(_iotjobs_qemu)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${_iotjobs_qemu} -L /usr/${_iotjobs_cross})
endif()
