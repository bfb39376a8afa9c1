"""`vam watch` (SPEC §11): projects kept in sync while people work, through the same pipeline as
`s3.up` and `s3.down`, with every rule of theirs intact.

deciding when   settle (a file is ready once still for the settle time), busy (Windows: not open
                in another program), timing (durations, backoff, noticing a sleep)
seeing changes  localevents (file-system events, watchfiles), project (a project's two sides:
                the stat walk, the index poll, the cycle), loop (the watch: what to look at when)
telling         events (what happened, the status), findings (reports said once per change,
                the webhook told of conflicts), transfers (progress for the live line), output
                (terminal line, plain lines, JSON lines), log (the rotated log file)
around it       lock (one watch per project), stopping (signals stop it cleanly), start (locks,
                projects and the loop set up and let go)
"""
