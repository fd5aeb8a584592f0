"""The command-line contract: help everywhere, one-line errors with exit 2, lazy heavy imports."""

import subprocess
import sys

import pytest

from mobilekit import cli
from mobilekit.cli import build_parser, main

COMMANDS = ["quickstart", "summary", "export", "bench", "compare", "inspect", "predict"]


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert command in out


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert f"mobilekit {command}" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["bench", "x.tflite", "--bogus"], ["frobnicate"],
                                  ["export", "mobilenet_v1", "--quant", "int4"],
                                  ["summary", "mobilenet_v1", "--kind", "diagonal"]])
def test_bad_usage_exits_2_with_one_line(argv, capsys):
    try:
        code = main(argv)  # flags the builder configuration refuses return 2
    except SystemExit as exc:  # argparse's own refusals exit
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error" in err[0]


def test_python_dash_m_runs_the_same_cli():
    result = subprocess.run([sys.executable, "-m", "mobilekit", "--version"],
                            capture_output=True, text=True, check=True)
    assert result.stdout.startswith("mobilekit ")


def test_help_does_not_import_tensorflow():
    code = ("import sys; from mobilekit.cli import main\n"
            "try: main(['export', '--help'])\nexcept SystemExit: pass\n"
            "assert 'tensorflow' not in sys.modules, 'help imported tensorflow'")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_every_command_has_its_handler():
    from mobilekit.cli import commands

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == set(cli.COMMANDS)
    for name in cli.COMMANDS:
        assert callable(getattr(commands, name)), name
