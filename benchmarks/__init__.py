"""The transfer benchmark (issue 4): vam side by side with aws cli, s5cmd and rclone.

Plain Python, no invoke: `vam bench` (vam/tasks/bench.py) is the only adapter. The pieces:

    install.py   fetches the server and the peer tools into .bench/ (or explains why it could not)
    server.py    a disk-backed S3-compatible server on loopback (s3rver), bucket housekeeping
    proxy.py     a counting TCP proxy: bytes on the wire, the same way for every tool
    measure.py   runs one tool as a child process: time, peak RSS, bytes read, kill at a threshold
    data.py      generated test data, cached under .bench/data and hard-linked into projects
    runners.py   the command line of each tool for "upload this project" / "download this project"
    cases.py     the cases of issue 4, each interleaving the tools repetition by repetition
    stats.py     medians, ratios and the printed table (pure)
    harness.py   options, presets, the whole run, the JSON result
"""
