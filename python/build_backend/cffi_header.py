"""Turns include/iotjobs.h into declarations cffi's parser accepts.

cffi's cdef() understands plain C declarations and `#define NAME <integer>`, nothing else of
the preprocessor. The committed header is the one C programs use: it has an include guard,
`#include` lines, C++ and C23 branches and a computed version macro. This keeps the branch a
C11 compiler would take, drops includes and guards, and replaces computed integer macros by
their values. Anything it does not understand stops the build: a half-translated header
would give a binding that differs from the library.

Usage: python cffi_header.py INPUT OUTPUT
"""

import re
import sys

# What a C11 compiler (not C++) defines, for the conditions the header tests.
_PREDEFINED = {"__STDC_VERSION__": 201112}
_DIRECTIVE = re.compile(r"^\s*#\s*(\w+)\s*(.*?)\s*$")
_IDENT = re.compile(r"\b[A-Za-z_]\w*\b")


class HeaderError(Exception):
    pass


def _strip_comments(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def _evaluate(expr, macros, line_no):
    """An integer preprocessor expression over known macros (unknown names are 0, as in C)."""
    expr = re.sub(r"\bdefined\s*\(\s*(\w+)\s*\)|\bdefined\s+(\w+)",
                  lambda m: "1" if (m.group(1) or m.group(2)) in macros else "0", expr)

    def name(m):
        value = macros.get(m.group(0), 0)
        if value is None:
            raise HeaderError("line %d: macro %s has no value in %r" % (line_no, m.group(0), expr))
        return "(%d)" % value

    expr = re.sub(r"\b(\d+)[uUlL]+\b", r"\1", expr)  # integer suffixes: 202311L
    expr = _IDENT.sub(name, expr)
    expr = expr.replace("||", " or ").replace("&&", " and ")
    expr = re.sub(r"!(?!=)", " not ", expr)
    if not re.fullmatch(r"[\d\s()+\-*/<>=!%notandr]*", expr) or re.search(r"\)\s*\(", expr):
        raise HeaderError("line %d: cannot evaluate %r" % (line_no, expr))
    try:
        value = eval(expr.replace("/", "//"), {"__builtins__": {}}, {})
    except Exception as e:  # a malformed expression: report where
        raise HeaderError("line %d: cannot evaluate %r: %s" % (line_no, expr, e))
    return int(value)


def translate(text):
    """The header `text` as cffi declarations (a string)."""
    macros = dict(_PREDEFINED)
    out = []
    # One entry per open #if: [taking this branch now, a branch was already taken, parent live]
    stack = []
    live = True
    for line_no, line in enumerate(_strip_comments(text).splitlines(), 1):
        m = _DIRECTIVE.match(line)
        if not m:
            if live and line.strip():
                out.append(line.rstrip())
            continue
        word, rest = m.group(1), m.group(2)
        if word in ("if", "ifdef", "ifndef"):
            if word == "if":
                cond = live and bool(_evaluate(rest, macros, line_no))
            else:
                cond = live and ((rest in macros) == (word == "ifdef"))
            stack.append([cond, cond, live])
            live = cond
        elif word in ("elif", "else"):
            if not stack:
                raise HeaderError("line %d: #%s without #if" % (line_no, word))
            top = stack[-1]
            take = top[2] and not top[1] and (word == "else" or bool(_evaluate(rest, macros, line_no)))
            top[0], top[1] = take, top[1] or take
            live = take
        elif word == "endif":
            if not stack:
                raise HeaderError("line %d: #endif without #if" % line_no)
            live = stack.pop()[2]
        elif not live:
            continue
        elif word == "include":
            continue  # cffi knows the standard integer, bool and size types itself
        elif word == "define":
            dm = re.match(r"(\w+)(\(.*?\))?\s*(.*)$", rest)
            if dm is None or dm.group(2):
                raise HeaderError("line %d: unsupported macro %r" % (line_no, rest))
            name, body = dm.group(1), dm.group(3)
            if not body:
                macros[name] = None  # an include guard
                continue
            value = _evaluate(body, macros, line_no)
            macros[name] = value
            out.append("#define %s %d" % (name, value))
        else:
            raise HeaderError("line %d: unsupported directive #%s" % (line_no, word))
    if stack:
        raise HeaderError("unterminated #if at end of header")
    return "\n".join(out) + "\n"


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        text = translate(f.read())
    with open(argv[2], "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
