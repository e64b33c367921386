/** The benchmark's progress lines, on stderr (stdout holds the table or the JSON). */
export const log = (msg: string) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
