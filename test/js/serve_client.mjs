// The AWS SDK for JavaScript v3 as a client of the local credential endpoint: it resolves
// credentials with one of its own providers, then calls STS GetCallerIdentity with them.
//   node serve_client.mjs http|container|imds STS_ENDPOINT
// The providers read the environment as they would in a pod: AWS_CONTAINER_CREDENTIALS_FULL_URI
// with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (or _TOKEN), or AWS_EC2_METADATA_SERVICE_ENDPOINT.
import { fromContainerMetadata, fromHttp, fromInstanceMetadata } from "@aws-sdk/credential-providers";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";

const [mode, endpoint] = process.argv.slice(2);
const providers = {
  http: () => fromHttp({}),
  container: () => fromContainerMetadata({ timeout: 2000, maxRetries: 1 }),
  imds: () => fromInstanceMetadata({ timeout: 2000, maxRetries: 1 }),
};
if (!providers[mode] || !endpoint) {
  console.error("usage: node serve_client.mjs http|container|imds STS_ENDPOINT");
  process.exit(2);
}
const credentials = await providers[mode]()();
if (!credentials.accessKeyId || !credentials.sessionToken || !credentials.expiration) {
  console.error("incomplete credentials");
  process.exit(1);
}
const sts = new STSClient({ region: "us-east-1", endpoint, credentials });
const identity = await sts.send(new GetCallerIdentityCommand({}));
console.log(identity.Arn);
