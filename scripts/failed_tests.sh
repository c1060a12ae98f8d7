#!/usr/bin/env bash
# After a failed ctest run: each failed googletest case again, from its "[ RUN ]" line to its
# "[  FAILED  ]" line (at most 80 lines of each), so that a CI log cut in the middle still ends
# with what failed and why. Usage: scripts/failed_tests.sh <build dir>
set -uo pipefail
log="${1:?usage: $0 <build dir>}/Testing/Temporary/LastTest.log"
[[ -f $log ]] || exit 0
awk '
    /^\[ RUN      \] / { name = $4; n = 0; delete block }
    name != "" { if (n < 80) block[n++] = $0 }
    /^\[  FAILED  \] .* \([0-9]+ ms\)$/ {
        print "==== failed: " $4
        for (i = 0; i < n; i++) print block[i]
        name = ""
    }
    /^\[       OK \] / { name = "" }
' "$log"
