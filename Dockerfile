# Lifeboat worker image: Node 20, the TypeScript sources run with tsx, and the PostgreSQL 15 client tools
# (pg_dump, pg_restore, psql) the backup and restore activities call.
#
#   docker build -t lifeboat-worker .
#   docker run --env-file .env lifeboat-worker        (see docker-compose.yml for the variables)

FROM node:20-bookworm-slim

# Debian bookworm ships PostgreSQL 15, the same major version as the databases in docker-compose.yml.
# pg_dump must not be older than the server it dumps: keep this in step with the protected database.
# openssh-client: ssh-keygen, with which the Slack receiver signs the clicks it relays.
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-15 openssh-client ca-certificates \
 && rm -rf /var/lib/apt/lists/*

ENV NODE_ENV=production
WORKDIR /app

# Dependencies first, so that this layer is cached while only the sources change.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force

COPY tsconfig.json ./
COPY bin ./bin
COPY config ./config
COPY common ./common
COPY workflows ./workflows
COPY activities ./activities
COPY worker ./worker
COPY client ./client

# Writable state for the unprivileged user: the "offsite" local store of the example configuration
# (LIFEBOAT_LOCAL_STORE) lives under /var/lib/lifeboat, a volume in docker-compose.yml.
RUN mkdir -p /var/lib/lifeboat/store /app/.lifeboat \
 && chown -R node:node /var/lib/lifeboat /app/.lifeboat

ENV LIFEBOAT_CONFIG=config/lifeboat.example.yaml \
    LIFEBOAT_LOCAL_STORE=/var/lib/lifeboat/store
VOLUME ["/var/lib/lifeboat"]

USER node

CMD ["node_modules/.bin/tsx", "client/cli.ts", "worker"]
