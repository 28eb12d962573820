// Creates the artifact bucket (S3_BUCKET at S3_ENDPOINT) if it is missing: the compose stack's
// `create-bucket` step for its MinIO service. Waits up to a minute for the endpoint to answer.
import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';

const bucket = process.env.S3_BUCKET;
if (!bucket) {
  console.error('S3_BUCKET is not set');
  process.exit(2);
}
const client = new S3Client({
  region: process.env.AWS_REGION || 'us-east-1',
  endpoint: process.env.S3_ENDPOINT || undefined,
  forcePathStyle: process.env.S3_FORCE_PATH_STYLE === 'true',
});
const deadline = Date.now() + 60_000;
for (;;) {
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
    console.log(`bucket ${bucket} exists`);
    break;
  } catch (err) {
    if (err?.$metadata?.httpStatusCode === 404) {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      console.log(`bucket ${bucket} created`);
      break;
    }
    if (Date.now() > deadline) {
      console.error(`cannot reach ${process.env.S3_ENDPOINT}: ${err?.name}: ${err?.message}`);
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}
client.destroy();
