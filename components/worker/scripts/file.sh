# shellcheck shell=bash
# The config and crictl-yaml steps: a configuration file sent on standard input (after lib.sh's write).
# shellcheck disable=SC2154
## Create: the operator's file is adopted (lib.sh), then the file written; this says what happened.
## Destroy: the operator's file it adopted goes back byte for byte; one it wrote over nothing is removed,
## and its directory if left empty. Only what the step's record lists is removed, so a rerun after the
## record is gone touches nothing: the file put back stays.

## region report
sum=$(sha256sum "$target" | awk '{ print $1 }')
if (( changed )); then echo "wrote $target (sha256 $sum)"; else echo "unchanged $target (sha256 $sum)"; fi
## endregion

## region give-back
give_back '@keep@' '@record@'
## endregion
## region remove-dir
## Not for /etc.
rmdir --ignore-fail-on-non-empty '@dir@' 2>/dev/null || true
## endregion
## region given-back
echo '@path@ given back: put back if adopted, else removed'
## endregion
