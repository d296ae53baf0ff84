// What must be undone however the run ends (success, failure, Ctrl-C): the app server it
// started, the pools it opened, the databases it created. Last registered, first run.
const tasks: { name: string; fn: () => Promise<void> }[] = [];

export function onCleanup(name: string, fn: () => Promise<void>): () => void {
  const task = { name, fn };
  tasks.push(task);
  return () => {
    const i = tasks.indexOf(task);
    if (i >= 0) tasks.splice(i, 1);
  };
}

export async function runCleanups(log: (line: string) => void = () => {}): Promise<void> {
  while (tasks.length > 0) {
    const task = tasks.pop()!;
    try {
      await task.fn();
    } catch (error) {
      log(`cleanup "${task.name}" failed: ${(error as Error).message}`);
    }
  }
}
