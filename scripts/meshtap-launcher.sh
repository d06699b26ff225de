#!/bin/sh
# `meshtap` in the container image: the pod's commands from the compiled entry, the rest from
# the sources (Node 24 strips their types).
case "$1" in
  init|sidecar|wait-ready) exec node /opt/meshtap/dist/meshtap-pod.js "$@" ;;
  *) exec node /opt/meshtap/bin/meshtap.ts "$@" ;;
esac
