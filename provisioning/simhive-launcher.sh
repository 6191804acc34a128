#!/bin/sh
# simhive launcher, installed as /usr/bin/simhive by provisioning/install.sh:
# the compiled JavaScript on the system's Node.js (>= 20).
exec "${SIMHIVE_NODE:-/usr/bin/node}" /usr/lib/simhive/app/core/main.js "$@"
