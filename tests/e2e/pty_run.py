"""Runs a command on a pseudo-terminal and answers its prompts, as a person at a terminal would.

    pty_run.py [--expect TEXT --send TEXT]... -- COMMAND [ARG]...

Each `--expect TEXT` waits until TEXT appears in the output (after what earlier expectations
matched); the `--send TEXT` after it is then typed (use a carriage return for Enter). The
command gets a 100x24 terminal as its stdin, stdout and stderr, and the environment of this
script. Prints one JSON object: {"code": exit code, "output": everything the terminal showed,
"unanswered": expectations never seen}. Gives up (killing the command) after --timeout seconds
(default 300), so a prompt that never comes cannot hang a test.
"""

import fcntl
import json
import os
import pty
import select
import signal
import struct
import sys
import termios
import time


def parse(argv):
    steps, timeout = [], 300.0
    while argv and argv[0] != "--":
        flag, value, argv = argv[0], argv[1], argv[2:]
        if flag == "--timeout":
            timeout = float(value)
        elif flag in ("--expect", "--send"):
            steps.append((flag, value))
        else:
            raise SystemExit(f"unknown flag {flag}")
    return steps, timeout, argv[1:]


def main():
    steps, timeout, command = parse(sys.argv[1:])
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        os.execvp(command[0], command)
    output = b""
    searched_from = 0
    deadline = time.monotonic() + timeout
    timed_out = False
    while True:
        while steps and steps[0][0] == "--expect":
            at = output.find(steps[0][1].encode(), searched_from)
            if at < 0:
                break
            searched_from = at + len(steps[0][1].encode())
            steps.pop(0)
            if steps and steps[0][0] == "--send":
                # Let the prompt finish drawing and switch the terminal mode first.
                time.sleep(0.3)
                os.write(fd, steps.pop(0)[1].encode())
        if time.monotonic() > deadline:
            timed_out = True
            os.kill(pid, signal.SIGKILL)
            break
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the command exited and closed the terminal
            data = b""
        if not data:
            break
        output += data
    _, status = os.waitpid(pid, 0)
    print(
        json.dumps(
            {
                "code": os.waitstatus_to_exitcode(status),
                "output": output.decode("utf-8", "replace"),
                "unanswered": [text for flag, text in steps if flag == "--expect"],
                "timed_out": timed_out,
            }
        )
    )


if __name__ == "__main__":
    main()
