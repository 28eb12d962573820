#!/usr/bin/env node
// `minio server DIR`: s3rver on port 9000 serving DIR (a directory in it is a bucket), accepting the
// access key MINIO_ROOT_USER as MinIO would. A stand-in for MinIO's image where it cannot be pulled;
// s3rver does not verify v4 signatures, so it is for tests and demos, never for production.
const [cmd, directory] = process.argv.slice(2);
if (cmd !== 'server' || !directory) {
  console.error('usage: minio server DIR');
  process.exit(2);
}
const S3rver = require('/opt/s3rver/node_modules/s3rver');
const { DUMMY_ACCOUNT } = require('/opt/s3rver/node_modules/s3rver/lib/models/account');
DUMMY_ACCOUNT.createKeyPair(process.env.MINIO_ROOT_USER || 'minioadmin', process.env.MINIO_ROOT_PASSWORD || 'minioadmin');
new S3rver({ address: '0.0.0.0', port: 9000, directory, vhostBuckets: false, silent: false })
  .run()
  .then((a) => console.log(`S3 (s3rver) listening on ${a.address}:${a.port}, serving ${directory}`));
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => process.exit(0));
