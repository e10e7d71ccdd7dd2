#!/bin/sh
# Remove from a buildroot the files another sample package owns (bincopy copies every
# library a binary needs), so each file has one owner and the dependency becomes a real
# Requires found by rpm's elfdeps. The last word of each line of a list is a target path.
# usage: prune-glibc.sh BUILDROOT LIST...
set -eu
root=$1
shift
grep -hv '^#' "$@" | while read -r line; do
    rm -f "$root${line##* }"
done
