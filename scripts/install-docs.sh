#!/usr/bin/env bash
# Installs the man page and the bash, zsh and fish completions of a built megaplan-fleet under a
# prefix (default /usr/local):
#   PREFIX/share/man/man1/megaplan-fleet.1 (one page, every subcommand in it)
#   PREFIX/share/bash-completion/completions/megaplan-fleet
#   PREFIX/share/zsh/site-functions/_megaplan-fleet
#   PREFIX/share/fish/vendor_completions.d/megaplan-fleet.fish
# The man pages come from swift-argument-parser's generate-manual tool (the one its GenerateManual
# plugin runs; the plugin would first rebuild every product of the package), the completions
# from the binary itself (--generate-completion-script).
# GENERATE_MANUAL names an already built generate-manual; else it is built here (in
# SCRATCH_PATH when set, else .build).
# Usage: scripts/install-docs.sh BINARY [PREFIX]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
binary=${1:?usage: scripts/install-docs.sh BINARY [PREFIX]}
prefix=${2:-/usr/local}
man="$prefix/share/man/man1"
bash_dir="$prefix/share/bash-completion/completions"
zsh_dir="$prefix/share/zsh/site-functions"
fish_dir="$prefix/share/fish/vendor_completions.d"
mkdir -p "$man" "$bash_dir" "$zsh_dir" "$fish_dir"

generator=${GENERATE_MANUAL:-}
if [ -z "$generator" ]; then
    build=(swift build --product generate-manual ${SCRATCH_PATH:+--scratch-path "$SCRATCH_PATH"})
    "${build[@]}" >&2
    generator="$("${build[@]}" --show-bin-path)/generate-manual"
fi
"$generator" "$binary" --output-directory "$man" >&2

"$binary" --generate-completion-script bash >"$bash_dir/megaplan-fleet"
"$binary" --generate-completion-script zsh >"$zsh_dir/_megaplan-fleet"
"$binary" --generate-completion-script fish >"$fish_dir/megaplan-fleet.fish"
echo "installed the man page in $man and completions for bash, zsh and fish under $prefix/share" >&2
