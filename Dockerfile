# The meshtap image: one image for the controller, the collector, the init container and the
# sidecar. `npm ci` builds dist/ (the `prepare` script); the pod's commands (init, sidecar,
# wait-ready) run from the compiled dist/meshtap-pod.js, the others from the sources.
FROM node:24-bookworm-slim AS build
WORKDIR /opt/meshtap
COPY package.json package-lock.json ./
COPY . .
RUN npm ci && npm prune --omit=dev --ignore-scripts

FROM node:24-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends iptables && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/meshtap
COPY --from=build /opt/meshtap ./
COPY scripts/meshtap-launcher.sh /usr/local/bin/meshtap
RUN chmod 0755 /usr/local/bin/meshtap
ENTRYPOINT ["meshtap"]
