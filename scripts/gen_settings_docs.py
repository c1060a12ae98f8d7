#!/usr/bin/env python3
"""Regenerates the settings lists of man/pooler.ini.5 and etc/pooler.ini from the settings
table (DESIGN §5: the table is the one place a setting's name and default are written).

Usage: scripts/gen_settings_docs.py [path/to/sluice]   (default build/sluice)
Each file keeps everything outside its "BEGIN/END GENERATED SETTINGS" markers.
"""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "BEGIN GENERATED SETTINGS"
END = "END GENERATED SETTINGS"


def read_table(binary):
    out = subprocess.run([binary, "--settings-tsv"], check=True, capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        name, default, unit, reload, support, description = line.split("\t")
        rows.append(dict(name=name, default=default, unit=unit, reloadable=reload == "reload",
                         supported=support == "supported", description=description))
    return rows


def man_escape(text):
    return text.replace("\\", "\\e").replace("-", "\\-")


def man_section(rows):
    lines = []
    for r in rows:
        default = r["default"] if r["default"] else "empty"
        notes = []
        if r["unit"]:
            notes.append(r["unit"])
        notes.append("reloadable" if r["reloadable"] else "needs a restart")
        if not r["supported"]:
            notes.append("not supported yet: accepted with a warning, no effect")
        lines += [".TP", f".B {r['name']}",
                  f"{man_escape(r['description'])}.",
                  f"Default: \\fB{man_escape(default)}\\fR ({man_escape(', '.join(notes))})."]
    return lines


def ini_section(rows):
    lines = []
    for r in rows:
        unit = f" ({r['unit']})" if r["unit"] else ""
        flags = "" if r["supported"] else " [not supported yet]"
        lines.append(f";; {r['description']}{unit}{flags}")
        lines.append(f";{r['name']} = {r['default']}")
        lines.append("")
    return lines[:-1]


def splice(path, generated, comment):
    text = path.read_text().splitlines()
    begin = next(i for i, l in enumerate(text) if BEGIN in l)
    end = next(i for i, l in enumerate(text) if END in l)
    text[begin + 1:end] = generated
    path.write_text("\n".join(text) + "\n")
    print(f"updated {path.relative_to(ROOT)} ({len(generated)} lines)")


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "build" / "sluice")
    rows = read_table(binary)
    splice(ROOT / "man" / "pooler.ini.5", man_section(rows), '.\\"')
    splice(ROOT / "etc" / "pooler.ini", ini_section(rows), ";")


if __name__ == "__main__":
    main()
