"""The package's PEP 517 backend: maturin, after the header is made ready for cffi.

maturin's cffi bindings read their declarations from `<cargo target dir>/header.h` when that
file exists. It is written here, before every wheel build, from the committed
include/iotjobs.h (the header C programs use, kept fresh by CI) by cffi_header.translate.
"""

import json
import os
import subprocess

import maturin
from maturin import (  # noqa: F401  (the hooks this backend passes through unchanged)
    build_sdist,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
    prepare_metadata_for_build_wheel,
)

from cffi_header import translate

_PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ROOT = os.path.dirname(_PROJECT)


def _target_dir():
    """Cargo's target directory for the library, as cargo itself resolves it."""
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps",
         "--manifest-path", os.path.join(_ROOT, "Cargo.toml")],
        check=True, capture_output=True, text=True)
    return json.loads(out.stdout)["target_directory"]


def write_header():
    with open(os.path.join(_ROOT, "include", "iotjobs.h"), encoding="utf-8") as f:
        text = translate(f.read())
    target = _target_dir()
    os.makedirs(target, exist_ok=True)
    path = os.path.join(target, "header.h")
    tmp = path + ".tmp-%d" % os.getpid()
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
    return path


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    write_header()
    return maturin.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    write_header()
    return maturin.build_editable(wheel_directory, config_settings, metadata_directory)


def get_requires_for_build_editable(config_settings=None):
    return maturin.get_requires_for_build_wheel(config_settings)
