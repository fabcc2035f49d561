"""Run the command line in-process: the exit status and what it printed."""

from vswap.__main__ import main


def run(capsys, *argv):
    """(status, stdout, stderr) of main(argv), whether it returns or exits."""
    try:
        status = main(list(argv))
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err
