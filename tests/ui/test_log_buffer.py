import logging
import threading

from app.ui.log_buffer import LogBuffer


def _logger(buffer: LogBuffer, name: str = "app.engine.test") -> logging.Logger:
    logger = logging.getLogger(name)
    logger.setLevel(logging.DEBUG)
    logger.addHandler(buffer)
    return logger


def test_the_buffer_keeps_the_last_records_numbered(request):
    buffer = LogBuffer(capacity=3)
    logger = _logger(buffer)
    request.addfinalizer(lambda: logger.removeHandler(buffer))
    for n in range(5):
        logger.info("record %d", n)
    assert [(e.number, e.message) for e in buffer.after(0)] == [
        (3, "record 2"), (4, "record 3"), (5, "record 4")
    ]
    assert [e.number for e in buffer.after(4)] == [5]
    assert buffer.after(5) == [] and buffer.after(99) == []
    assert [e.number for e in buffer.after(1)] == [3, 4, 5]  # 2 is gone: all that is kept


def test_a_traceback_is_kept_apart_from_the_message(request):
    buffer = LogBuffer()
    logger = _logger(buffer)
    request.addfinalizer(lambda: logger.removeHandler(buffer))
    try:
        raise ValueError("bad thing")
    except ValueError:
        logger.exception("could not do it")
    (entry,) = buffer.after(0)
    assert (entry.level, entry.source, entry.message) == (logging.ERROR, "app.engine.test", "could not do it")
    assert entry.detail.startswith("Traceback") and "ValueError: bad thing" in entry.detail


def test_records_from_many_threads_are_all_numbered_once(request):
    buffer = LogBuffer(capacity=10_000)
    logger = _logger(buffer)
    request.addfinalizer(lambda: logger.removeHandler(buffer))
    threads = [
        threading.Thread(target=lambda: [logger.debug("x") for _ in range(500)]) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert [e.number for e in buffer.after(0)] == list(range(1, 2001))


def test_a_bad_format_string_does_not_break_logging(capsys):
    buffer = LogBuffer()

    def record(message: str, *args: object) -> logging.LogRecord:
        return logging.LogRecord("app.engine.x", logging.INFO, __file__, 1, message, args, None)

    buffer.handle(record("%d peers", "many"))  # a bug in someone's log call
    buffer.handle(record("next"))
    assert [(e.number, e.message) for e in buffer.after(0)] == [(1, "next")]
    assert "Logging error" in capsys.readouterr().err  # logging's own report of the bug
