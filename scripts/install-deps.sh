#!/bin/sh
# Installs what clgrad needs to build, test and train on a Debian 12 machine (the list is
# scripts/debian-packages.txt). Runs apt-get directly as root, through sudo otherwise.
set -eu
cd "$(dirname "$0")"
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
# shellcheck disable=SC2046
$SUDO apt-get install -y --no-install-recommends $(grep -v '^#' debian-packages.txt)
