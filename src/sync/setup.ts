/**
 * `ticktape sync setup`: the DataSync locations and task the daily sync runs, for teams that do not manage them
 * in Terraform. The EFS location is the dataset root; the S3 location is the destination prefix; the task copies
 * changed files only (TransferMode CHANGED), verifies what it transferred (ONLY_FILES_TRANSFERRED), never
 * deletes at the destination, and logs to CloudWatch. With `dryRun` the requests are returned, not sent.
 */
import { parseDestination } from "./destination.js";

export interface SetupOptions {
  /** `arn:aws:elasticfilesystem:<region>:<account>:file-system/fs-…` */
  efsFileSystemArn: string;
  /** Folder of the dataset root inside the file system (default `/`). */
  efsSubdirectory?: string;
  subnetArn: string;
  securityGroupArns: string[];
  /** `s3://bucket/prefix` */
  destination: string;
  /** IAM role DataSync assumes to write to the bucket. */
  bucketAccessRoleArn: string;
  /** S3 storage class of the copies (default STANDARD). */
  storageClass?: string;
  name?: string;
  cloudWatchLogGroupArn?: string;
  /** A local stand-in's endpoint. */
  endpoint?: string;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  dryRun?: boolean;
}

export interface SetupResult {
  dryRun: boolean;
  requests: { operation: string; input: Record<string, unknown> }[];
  efsLocationArn: string | null;
  s3LocationArn: string | null;
  taskArn: string | null;
}

/** The task options the sync relies on. */
export const TASK_OPTIONS = {
  TransferMode: "CHANGED",
  VerifyMode: "ONLY_FILES_TRANSFERRED",
  OverwriteMode: "ALWAYS",
  PreserveDeletedFiles: "PRESERVE",
  LogLevel: "TRANSFER",
  TaskQueueing: "ENABLED",
} as const;

export async function setupDataSync(o: SetupOptions): Promise<SetupResult> {
  const dest = parseDestination(o.destination);
  const efsInput = {
    EfsFilesystemArn: o.efsFileSystemArn,
    Subdirectory: o.efsSubdirectory ?? "/",
    Ec2Config: { SubnetArn: o.subnetArn, SecurityGroupArns: o.securityGroupArns },
  };
  const s3Input = {
    S3BucketArn: `arn:aws:s3:::${dest.bucket}`,
    Subdirectory: `/${dest.prefix}`,
    S3StorageClass: (o.storageClass ?? "STANDARD") as "STANDARD",
    S3Config: { BucketAccessRoleArn: o.bucketAccessRoleArn },
  };
  const taskInput = (source: string, destination: string) => ({
    SourceLocationArn: source,
    DestinationLocationArn: destination,
    Name: o.name ?? `ticktape-${dest.bucket}`,
    Options: TASK_OPTIONS,
    // Open files are never copied, whatever the execution's own filters say.
    Excludes: [{ FilterType: "SIMPLE_PATTERN" as const, Value: "*.open" }],
    ...(o.cloudWatchLogGroupArn !== undefined ? { CloudWatchLogGroupArn: o.cloudWatchLogGroupArn } : {}),
  });
  if (o.dryRun) {
    return {
      dryRun: true,
      requests: [
        { operation: "CreateLocationEfs", input: efsInput },
        { operation: "CreateLocationS3", input: s3Input },
        {
          operation: "CreateTask",
          input: taskInput("<CreateLocationEfs.LocationArn>", "<CreateLocationS3.LocationArn>"),
        },
      ],
      efsLocationArn: null,
      s3LocationArn: null,
      taskArn: null,
    };
  }
  const sdk = await import("@aws-sdk/client-datasync");
  const client = new sdk.DataSyncClient({
    ...(o.endpoint !== undefined ? { endpoint: o.endpoint } : {}),
    region: o.region ?? process.env.AWS_REGION ?? "us-east-1",
    ...(o.credentials !== undefined ? { credentials: o.credentials } : {}),
  });
  try {
    const efs = await client.send(new sdk.CreateLocationEfsCommand(efsInput));
    const s3 = await client.send(new sdk.CreateLocationS3Command(s3Input));
    const task = await client.send(new sdk.CreateTaskCommand(taskInput(efs.LocationArn!, s3.LocationArn!)));
    return {
      dryRun: false,
      requests: [
        { operation: "CreateLocationEfs", input: efsInput },
        { operation: "CreateLocationS3", input: s3Input },
        { operation: "CreateTask", input: taskInput(efs.LocationArn!, s3.LocationArn!) },
      ],
      efsLocationArn: efs.LocationArn ?? null,
      s3LocationArn: s3.LocationArn ?? null,
      taskArn: task.TaskArn ?? null,
    };
  } finally {
    client.destroy();
  }
}
