/** Child process: tries to open a log dir held by the parent; prints the outcome as JSON. */
import { openLog } from '../../src/index.js';

const dir = process.argv[2] as string;
try {
  const log = await openLog({ dir });
  await log.close();
  console.log(JSON.stringify({ opened: true }));
} catch (err) {
  console.log(JSON.stringify({ code: (err as { code?: string }).code, message: (err as Error).message }));
}
