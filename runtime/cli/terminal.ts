/**
 * The terminal or pipe a command prints to going away: a reader that closed the pipe early
 * (`dora-ts list | head -1`: EPIPE) or a terminal that hung up (an SSH session dropped: EIO on
 * the next write, after SIGHUP). A command that only prints is done then and exits 0; a
 * foreground run has a dataflow to stop first, cleanly, and says so through
 * {@link onOutputGone}. Before, the run exited at once on EPIPE and died of SIGHUP: its nodes
 * were SIGTERMed by the reaper, and the run's log had no end.
 *
 * @module
 */

let listener: (() => void) | undefined
let gone = false

/** Watch stdout and stderr; called once, by the CLI's entry point. Other write errors are thrown. */
export function watchOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'EIO') throw err
      if (listener === undefined) process.exit(0)
      if (gone) return
      gone = true
      listener()
    })
  }
}

/** What to do, once, when the output goes away, instead of exiting; undefined to exit again. */
export function onOutputGone(then: (() => void) | undefined): void {
  listener = then
}
