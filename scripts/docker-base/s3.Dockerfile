# An S3-compatible server for the compose stack's `s3` profile where MinIO's image cannot be pulled:
# s3rver (the server the tests use) behind a `minio` command, so the compose file's
# `minio server /data` runs it unchanged. A directory made in /data at start is a bucket.
ARG NODE_IMAGE
FROM ${NODE_IMAGE}
ARG EXTRA_CA_CERTS=
RUN printf '%s' "$EXTRA_CA_CERTS" > /usr/local/share/extra-ca-certs.pem
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/extra-ca-certs.pem
RUN mkdir /opt/s3rver && cd /opt/s3rver && npm init -y >/dev/null && npm install --no-audit --no-fund s3rver@3.7.1 >/dev/null
COPY minio-shim.cjs /usr/local/bin/minio
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 9000
CMD ["minio", "server", "/data"]
