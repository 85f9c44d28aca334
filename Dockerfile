# syntax=docker/dockerfile:1
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/src/server/simulator/public ./dist/server/simulator/public
COPY package.json ./
COPY bin ./bin
COPY flows ./flows
COPY locales ./locales
COPY schemas ./schemas
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Memory (bench/README.md, "Gateway memory"): a young generation of 2 x 8 MB and at most two malloc arenas; the
# gateway itself lets the old generation grow only 30 % past the live heap (HEAP_GROWING_PERCENT, default 30).
# `npm run bench` starts the gateway with exactly these flags and this environment, read from this file.
ENV MALLOC_ARENA_MAX=2
CMD ["node", "--max-semi-space-size=8", "dist/main.js"]
