# syntax=docker/dockerfile:1
# Build stage: full dependencies, TypeScript compiled to dist/.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bench ./bench
COPY scripts ./scripts
# The build bundles the CLI and writes its V8 code cache: this image's Node is the one that reads it.
RUN npm run build && npm prune --omit=dev

# Runtime stage: production dependencies and compiled code only, as a non-root user.
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The dashboard's static page is served from the source tree's public folder.
COPY --from=build /app/src/dashboard/public ./src/dashboard/public
# The Redis scripts are read from the source tree too (src/redis/scripts.ts).
COPY --from=build /app/src/redis/lua ./src/redis/lua
USER node
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["worker"]
