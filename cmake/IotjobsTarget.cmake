# Which machine the Rust library is built for, and a check that it is the machine CMake's C
# compiler builds for. Included by CMakeLists.txt (configure) and by check-library-machine.cmake
# (build time, in script mode), so both read ELF headers and name machines the same way.

# iotjobs_elf_machine(<file> <out-var>): sets <out-var> to the ELF e_machine number of <file>,
# or to "" when <file> is missing or not an ELF file.
function(iotjobs_elf_machine file out)
  set(${out} "" PARENT_SCOPE)
  if(NOT EXISTS "${file}")
    return()
  endif()
  file(READ "${file}" _hex OFFSET 0 LIMIT 20 HEX)
  string(LENGTH "${_hex}" _len)
  if(_len LESS 40 OR NOT _hex MATCHES "^7f454c46")
    return()
  endif()
  string(SUBSTRING "${_hex}" 10 2 _data)   # EI_DATA: 01 little-endian, 02 big-endian
  string(SUBSTRING "${_hex}" 36 2 _b0)
  string(SUBSTRING "${_hex}" 38 2 _b1)
  if(_data STREQUAL "02")
    math(EXPR _machine "0x${_b0}${_b1}")
  else()
    math(EXPR _machine "0x${_b1}${_b0}")
  endif()
  set(${out} "${_machine}" PARENT_SCOPE)
endfunction()

# iotjobs_machine_name(<number> <out-var>): a readable name for an ELF e_machine number.
function(iotjobs_machine_name machine out)
  set(_names "3=x86 (i386)" "8=MIPS" "20=PowerPC" "21=PowerPC64" "22=s390" "40=ARM (32-bit)"
             "43=SPARC v9" "62=x86-64" "183=AArch64" "243=RISC-V" "258=LoongArch")
  foreach(_pair IN LISTS _names)
    if(_pair MATCHES "^${machine}=(.*)$")
      set(${out} "${CMAKE_MATCH_1} (e_machine ${machine})" PARENT_SCOPE)
      return()
    endif()
  endforeach()
  set(${out} "e_machine ${machine}" PARENT_SCOPE)
endfunction()

# iotjobs_rust_target_machine(<triple> <out-var>): the ELF e_machine a Rust target triple's
# code has, or "" for an architecture this table does not know (then only the build-time
# check of the produced library applies).
function(iotjobs_rust_target_machine triple out)
  string(REGEX REPLACE "-.*" "" _arch "${triple}")
  set(_m "")
  if(_arch STREQUAL "x86_64")
    set(_m 62)
  elseif(_arch MATCHES "^i[3-6]86$")
    set(_m 3)
  elseif(_arch MATCHES "^aarch64")
    set(_m 183)
  elseif(_arch MATCHES "^(arm|thumb)")
    set(_m 40)
  elseif(_arch MATCHES "^riscv")
    set(_m 243)
  elseif(_arch MATCHES "^mips")
    set(_m 8)
  elseif(_arch MATCHES "^powerpc64")
    set(_m 21)
  elseif(_arch MATCHES "^powerpc")
    set(_m 20)
  elseif(_arch STREQUAL "s390x")
    set(_m 22)
  elseif(_arch STREQUAL "loongarch64")
    set(_m 258)
  endif()
  set(${out} "${_m}" PARENT_SCOPE)
endfunction()

# iotjobs_rust_triple_from_gnu(<gnu-triple> <processor> <out-var>): the Rust target triple for a
# GNU toolchain triple (as `cc -dumpmachine` prints it, e.g. aarch64-linux-gnu) or, failing that,
# for CMAKE_SYSTEM_PROCESSOR on Linux. Sets "" when neither says enough.
function(iotjobs_rust_triple_from_gnu gnu processor out)
  set(_t "")
  string(TOLOWER "${gnu}" gnu)
  if(gnu MATCHES "^([a-z0-9_]+)-(([a-z0-9_]+)-)?linux-(gnu|gnueabi|gnueabihf|musl|musleabi|musleabihf)$")
    set(_arch "${CMAKE_MATCH_1}")
    set(_env "${CMAKE_MATCH_4}")
    if(_arch STREQUAL "arm" AND _env MATCHES "hf$")
      # Debian's and Ubuntu's armhf (arm-linux-gnueabihf) is ARMv7-A with VFPv3-D16 and Thumb-2,
      # which is armv7-unknown-linux-gnueabihf. ARMv6 boards (Raspberry Pi 1/Zero) need
      # IOTJOBS_RUST_TARGET=arm-unknown-linux-gnueabihf.
      set(_arch armv7)
    elseif(_arch STREQUAL "riscv64")
      set(_arch riscv64gc)
    elseif(_arch STREQUAL "arm64")
      set(_arch aarch64)
    endif()
    set(_t "${_arch}-unknown-linux-${_env}")
  else()
    string(TOLOWER "${processor}" _p)
    if(_p MATCHES "^(aarch64|arm64)$")
      set(_t aarch64-unknown-linux-gnu)
    elseif(_p MATCHES "^armv7")
      set(_t armv7-unknown-linux-gnueabihf)
    elseif(_p MATCHES "^(x86_64|amd64)$")
      set(_t x86_64-unknown-linux-gnu)
    elseif(_p MATCHES "^i[3-6]86$")
      set(_t i686-unknown-linux-gnu)
    endif()
  endif()
  set(${out} "${_t}" PARENT_SCOPE)
endfunction()
