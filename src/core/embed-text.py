#!/usr/bin/env python3
"""Writes a C file defining `const char NAME[]` holding the text of a file,
so vmenv carries data such as the Vagrantfile recorder inside its binary."""
import sys

src, name, out = sys.argv[1:4]
data = open(src, "rb").read()
with open(out, "w") as f:
    f.write("/* generated from %s by embed-text.py: do not edit */\n" % src.split("/")[-1])
    f.write("const char %s[] =\n" % name)
    for i in range(0, len(data), 16):
        f.write('    "' + "".join("\\x%02x" % b for b in data[i:i + 16]) + '"\n')
    f.write("    ;\n")
