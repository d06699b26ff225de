#!/bin/sh
# `meshtap` in the container image: the pod's commands from the compiled entry, the rest from
# the sources (Node 24 strips their types).
# The sidecar's V8 flags are SIDECAR_NODE_FLAGS in lib/pod-entry.ts (Node refuses them in
# NODE_OPTIONS); a test runs this script to check the two agree.
case "$1" in
  sidecar) exec node --no-maglev /opt/meshtap/dist/meshtap-pod.js "$@" ;;
  init|wait-ready) exec node /opt/meshtap/dist/meshtap-pod.js "$@" ;;
  *) exec node /opt/meshtap/bin/meshtap.ts "$@" ;;
esac
