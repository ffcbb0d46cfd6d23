/**
 * What the Pulumi components and `npm run render` call: the host's files, the config bundle uploaded to S3 and
 * the EC2 user data. All pure: stack config and HostContext in, text out.
 */
export { renderHostFiles } from "./render-files";
export { renderBundle, buildBundle } from "./bundle";
export type { Bundle } from "./bundle";
export { renderUserData, USER_DATA_LIMIT_BYTES } from "./user-data";
