// Runs the S3 emulator (fauxqs needs Node >= 22.5: started with the node@22 devDependency's binary) on
// 127.0.0.1 at a free port (its startFauxqs would listen on every interface), prints {"endpoint": ...} once it
// listens, and stops when its stdin closes.
import { buildApp } from "fauxqs";

const app = buildApp({ logger: false });
const address = await app.listen({ port: 0, host: "127.0.0.1" });
process.stdout.write(`${JSON.stringify({ endpoint: address })}\n`);
process.stdin.on("end", async () => {
  await app.close();
  process.exit(0);
});
process.stdin.resume();
