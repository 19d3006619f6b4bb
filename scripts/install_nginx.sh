#!/bin/sh
# nginx from Debian's packages, for the tests that put several webmcp instances behind it
# (tests/integration/nginx.py). Does nothing when nginx is already installed. Needs root (or sudo)
# and the network for apt. A failure exits non-zero: the tests that need nginx then fail, never skip.
set -eu
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
    SUDO="sudo -n"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q nginx
