/**
 * The process's output may go away while it runs: the log shipper or `| tee` reading it restarts or is
 * killed. The next line written then fails (EPIPE), and the stream emits that as 'error', which with no
 * listener ends the process (console.log's too: it guards only the write itself, not the error emitted a
 * tick later). With this, the server serves on without its log: said once on the other stream, if that
 * one still works. For the CLI, which owns the process's streams.
 */
export function surviveLostOutput(streams: NodeJS.WritableStream[] = [process.stdout, process.stderr]): void {
  const lost = new Set<NodeJS.WritableStream>();
  for (const stream of streams) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (lost.has(stream)) return;
      lost.add(stream);
      const other = streams.find((s) => s !== stream && !lost.has(s));
      const name = stream === process.stderr ? 'stderr' : 'stdout';
      other?.write(`chronicle-server: ${name} failed (${error.code ?? error.message}); its lines are lost from now on\n`);
    });
  }
}
