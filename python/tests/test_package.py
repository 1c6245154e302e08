"""The package: the bundled library, its cffi declarations made from the committed header,
and the header translation itself."""

import os
import sys

import cffi
import pytest

import iotjobs

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "python", "build_backend"))
from cffi_header import HeaderError, translate  # noqa: E402


def test_the_bundled_library_is_the_one_the_package_loads():
    native = os.path.dirname(iotjobs._lib.__file__)
    assert os.path.exists(os.path.join(native, "_native", "lib_native.so"))
    assert iotjobs.library_version().startswith("iotjobs/%s " % iotjobs.__version__)


def test_the_committed_header_translates_and_matches_the_binding():
    with open(os.path.join(ROOT, "include", "iotjobs.h")) as f:
        decls = translate(f.read())
    ffi = cffi.FFI()
    ffi.cdef(decls)
    for struct in ("jobs_update_args", "jobs_describe_args", "jobs_start_next_args",
                   "jobs_get_pending_args", "jobs_agent_config", "jobs_agent_handler",
                   "jobs_agent_counters", "jobs_job_summary", "jobs_agent_event"):
        assert ffi.sizeof(struct) == iotjobs.ffi.sizeof(struct), struct
    assert "#define JOBS_VERSION_NUMBER %d" % iotjobs.lib.JOBS_VERSION_NUMBER in decls
    assert "__cplusplus" not in decls and "#include" not in decls and "#if" not in decls


def test_translate_takes_the_c11_branch():
    text = """
#ifndef GUARD_H
#define GUARD_H
#include <stdint.h>
#define A 2 /* two */
#define B ((A * 1000) + 7U)
enum e
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // C23
{ E_X = 1 };
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum e e;
#else
typedef uint32_t e;
#endif
#endif
#ifdef __cplusplus
extern "C" {
#endif
int f(e x); // a function
#endif
"""
    out = translate(text)
    assert out.split("\n") == ["#define A 2", "#define B 2007", "enum e", "{ E_X = 1 };",
                               "typedef uint32_t e;", "int f(e x);", ""]


@pytest.mark.parametrize("bad", ["#pragma once\n", "#define F(x) x\n", "#if 1\n",
                                 "#endif\n", "#define X foo()\n"])
def test_translate_refuses_what_it_does_not_understand(bad):
    with pytest.raises(HeaderError):
        translate(bad)
