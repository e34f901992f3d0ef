#!/usr/bin/env bash
# Installs the Debian packages megaplan-fleet builds and tests with: libssh2 (the SSH transport),
# libyaml-dev (the YAML reader; its archive is linked into the binary),
# libcurl (Foundation's URLSession links it: notification webhooks; the static release build needs
# its -dev package, the binary libcurl4 at run time),
# OpenSSL headers (digests), OpenSSH server and client (test hosts, key generation), tmux, git and
# python3 (the runner side of the tests and the demo). `--tests` adds docker.io and Debian's
# docker-compose (the suite starts a private Docker engine for the ssh provider's docker runtime
# and the local provider), debootstrap (a Debian 12 root file system without Swift, where the
# release binary runs on its own), prometheus-node-exporter and prometheus (a real node_exporter
# reads two shards' textfiles; promtool checks and unit-tests examples/prometheus/alerts.yaml),
# tini (the container image's process 1, copied into the test's base image), socat (the relay
# that tests run as an ssh_config ProxyCommand), iproute2 and iptables (test hosts in network
# namespaces that only a jump host reaches), systemd
# (systemd-analyze checks examples/systemd), kubernetes-validate (PyPI) checks the Kubernetes
# example, pyflakes (PyPI) lints the runner's status-read program, and PyYAML (PyPI, the
# reference's parser) is what the YAML reader is compared against.
set -euo pipefail
packages=(libssh2-1-dev libyaml-dev libssl-dev libcurl4-openssl-dev openssh-server openssh-client tmux git python3 ca-certificates procps)
[ "${1:-}" = --tests ] && packages+=(docker.io docker-compose debootstrap prometheus-node-exporter prometheus tini socat iproute2 iptables systemd)
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# From PyPI for the tests: the Kubernetes example is checked against the API's own schemas
# (offline), run as `python3 -m kubernetes_validate`; the runner's status-read program
# (Sources/RunnerProtocol/Programs/status_read.py) is linted with `python3 -m pyflakes`.
pip_install() {
    python3 -m pip --version >/dev/null 2>&1 ||
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-pip
    python3 -m pip install --quiet --disable-pip-version-check "$1" ||
        python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "$1"
}
if [ "${1:-}" = --tests ] && ! python3 -c 'import kubernetes_validate' >/dev/null 2>&1; then
    pip_install kubernetes-validate==1.37.0
fi
if [ "${1:-}" = --tests ] && ! python3 -c 'import pyflakes' >/dev/null 2>&1; then
    pip_install pyflakes==3.2.0
fi
if [ "${1:-}" = --tests ] && ! python3 -c 'import yaml' >/dev/null 2>&1; then
    pip_install pyyaml==6.0.3
fi
