#!/bin/sh
# Makes the root file system of a runner image from this machine's own programs, since no image
# registry is reachable here: bash and the core utilities, python3 with its standard library,
# git, tmux, the shared libraries they load, and the runner stand-ins of ../runner (core megaplan,
# its megaplan.cli, megaplan.chain and megaplan.profiles modules and gh). Usage: runner-rootfs.sh FIXTURES_RUNNER_DIR OUTPUT_TAR [dockerfile-base]
# With `dockerfile-base` the root also stands in for the base image (FROM ubuntu:22.04) of the
# deploy directory's Dockerfile, so `compose build` runs every step of it without a network: the
# installers it calls (apt-get, wget, curl, dpkg, pyenv, pip, nvm, npm, bun) and the agent CLIs are
# scripts that succeed doing nothing, and pyenv's `git clone` is skipped (other git calls pass
# through to git).
set -eu
fixtures=$1
output=$2
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

mkdir -p "$root/usr/bin" "$root/usr/lib" "$root/usr/lib64" "$root/usr/sbin" "$root/usr/local/bin" \
    "$root/etc" "$root/tmp" "$root/var/tmp" "$root/root" "$root/workspace" "$root/proc" "$root/sys" \
    "$root/dev" "$root/run" "$root/opt/megaplan-stub/python/megaplan/cli"
chmod 1777 "$root/tmp" "$root/var/tmp"
for link in bin lib lib64 sbin; do ln -s "usr/$link" "$root/$link"; done
printf 'root:x:0:0:root:/root:/bin/bash\n' > "$root/etc/passwd"
printf 'root:x:0:\n' > "$root/etc/group"

# A file and, for an ELF file, every library it loads; paths under /bin and /lib are copied to
# their /usr twins (the image's /bin and /lib are links, as on a merged-/usr system).
copy() {
    for file in "$@"; do
        target="$root/usr${file#/usr}"
        [ -e "$target" ] && continue
        mkdir -p "$(dirname "$target")"
        cp -L "$file" "$target"
        ldd "$file" 2>/dev/null | awk '/=> \// { print $3 } /^[[:space:]]*\/[^ ]+ \(/ { print $1 }' |
            while read -r library; do copy "$library"; done
    done
}

for program in bash sh cat cp mv rm ln ls mkdir rmdir chmod stat sleep env timeout tee printf echo \
    test true false id dirname basename head tail sed grep readlink date tr wc cut sort uname touch \
    printenv hostname \
    python3 git tmux; do
    for directory in /usr/bin /bin /usr/sbin; do
        if [ -x "$directory/$program" ]; then copy "$directory/$program"; break; fi
    done
done
copy /usr/lib/git-core/git
python=$(python3 -c 'import sys; print("/usr/lib/python%d.%d" % sys.version_info[:2])')
mkdir -p "$root$python"
(cd "$python" && tar -cf - --exclude=test --exclude=__pycache__ --exclude=idlelib --exclude=tkinter \
    --exclude=site-packages --exclude=dist-packages .) | (cd "$root$python" && tar -xf -)
find "$python/lib-dynload" -name '*.so' | while read -r module; do
    ldd "$module" | awk '/=> \// { print $3 }' | while read -r library; do copy "$library"; done
done
# Terminal descriptions and the C.UTF-8 locale (tmux refuses to start without a UTF-8 locale),
# and git's repository templates.
for data in /usr/share/terminfo /lib/terminfo /usr/lib/locale/C.utf8 /usr/share/git-core/templates; do
    [ -d "$data" ] && mkdir -p "$root/usr${data#/usr}" && cp -a "$data/." "$root/usr${data#/usr}/"
done

install -m 0755 "$fixtures/megaplan" "$fixtures/gh" "$root/usr/local/bin/"
install -m 0644 "$fixtures/python/megaplan/__init__.py" "$fixtures/python/megaplan/chain.py" "$fixtures/python/megaplan/profiles.py" \
    "$root/opt/megaplan-stub/python/megaplan/"
install -m 0644 "$fixtures/python/megaplan/cli/__init__.py" "$root/opt/megaplan-stub/python/megaplan/cli/"
if [ "${3:-}" = dockerfile-base ]; then
    mkdir -p "$root/root/.pyenv/bin" "$root/root/.pyenv/shims" "$root/root/.nvm/bin" "$root/root/.bun/bin" \
        "$root/var/log" "$root/var/lib/apt/lists" "$root/etc/apt/sources.list.d"
    for tool in usr/local/bin/apt-get usr/local/bin/curl root/.pyenv/bin/pyenv root/.pyenv/shims/pip \
        root/.nvm/bin/node root/.nvm/bin/npm root/.nvm/bin/npx root/.nvm/bin/codex root/.nvm/bin/claude \
        root/.nvm/bin/shannon root/.bun/bin/bun; do
        printf '#!/bin/sh\nexit 0\n' > "$root/$tool"
    done
    # wget -qO FILE URL: an empty FILE.
    printf '#!/bin/sh\nwhile [ $# -gt 0 ]; do case "$1" in -qO|-O) : > "$2"; shift ;; esac; shift; done\n' \
        > "$root/usr/local/bin/wget"
    printf '#!/bin/sh\necho amd64\n' > "$root/usr/local/bin/dpkg"
    printf '#!/bin/sh\n[ "$1" = clone ] && exit 0\nexec /usr/bin/git "$@"\n' > "$root/root/.pyenv/bin/git"
    chmod 755 "$root"/usr/local/bin/* "$root"/root/.pyenv/bin/* "$root"/root/.pyenv/shims/* "$root"/root/.nvm/bin/* \
        "$root"/root/.bun/bin/*
    printf 'nvm() { [ "$1" = which ] && echo /root/.nvm/bin/node; return 0; }\n' > "$root/root/.nvm/nvm.sh"
fi
tar -C "$root" -cf "$output" .
