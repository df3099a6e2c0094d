"""The command line. Thin: parse arguments, call the library, turn errors into exit codes."""


def main() -> None:
    raise SystemExit("not yet")
