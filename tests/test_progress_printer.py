"""piecemeal-cli's progress: rewritten in place on a terminal, whole lines in a pipe, none when quiet."""

import io

from app.progress_printer import PLAIN_EVERY, ProgressPrinter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_pipe_gets_a_line_every_few_seconds_and_at_each_change_of_state() -> None:
    out, clock = io.StringIO(), FakeClock()
    printer = ProgressPrinter(out, quiet=False, clock=clock)
    printer.show(" 10.0%  checking  ", "checking")  # the first one, at once
    clock.now += 1
    printer.show(" 11.0%  checking", "checking")  # too soon
    printer.show(" 12.0%  downloading", "downloading")  # a new state: at once
    clock.now += PLAIN_EVERY - 0.5
    printer.show(" 13.0%  downloading", "downloading")  # too soon
    clock.now += 0.5
    printer.show(" 14.0%  downloading", "downloading")  # PLAIN_EVERY since the last line
    clock.now += 0.1
    printer.show("100.0%  seeding", "downloading", final=True)  # the last word, always
    printer.close()
    assert out.getvalue() == (
        " 10.0%  checking\n 12.0%  downloading\n 14.0%  downloading\n100.0%  seeding\n"
    )


def test_a_terminal_gets_one_line_rewritten_and_ended() -> None:
    out = Terminal()
    printer = ProgressPrinter(out, quiet=False, clock=FakeClock())
    printer.show("10.0%", "a")
    printer.show("20.0%", "a")
    printer.close()
    assert out.getvalue() == f"\r{'10.0%':<100}\r{'20.0%':<100}\n"


def test_quiet_prints_nothing_even_on_a_terminal() -> None:
    out = Terminal()
    printer = ProgressPrinter(out, quiet=True, clock=FakeClock())
    printer.show("10.0%", "a")
    printer.show("100.0%", "b", final=True)
    printer.close()
    assert out.getvalue() == ""
