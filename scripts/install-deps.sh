#!/bin/sh
# Installs what clgrad needs to build, test and train on a Debian 12 machine.
# Runs apt-get directly as root, through sudo otherwise.
set -eu
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends \
  gcc libc6-dev pkg-config python3 meson ninja-build \
  ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo libclblast-dev \
  check libxxhash-dev libcjson-dev zlib1g-dev libopenblas-dev \
  dataset-fashion-mnist
